"""/metrics: the contract's metrics, read as parsed samples and their values."""

from pathlib import Path

from fastapi import FastAPI

from tests.support.asgi import TestClient
from tests.support.target_server import AppFactory, Samples, scrape, value, write_hosts

ROUTE = "/products/{product_id}"


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def test_request_counters_count_per_route_template(client: TestClient) -> None:
    before = scrape(client)
    for pid in (1, 2, 3):
        assert client.get(f"/products/{pid}").status_code == 200
    assert client.get("/products/999999").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "breakfix_http_requests_total"
    assert delta(requests, method="GET", route=ROUTE, status="200") == 3
    assert delta(requests, method="GET", route=ROUTE, status="404") == 1
    assert delta(requests, method="GET", route="<unmatched>", status="404") == 1
    count = "breakfix_http_request_duration_seconds_count"
    assert delta(count, method="GET", route=ROUTE) == 4
    assert (
        delta("breakfix_http_request_duration_seconds_bucket", method="GET", route=ROUTE, le="+Inf")
        == 4
    )
    assert not any(dict(labels).get("route", "").startswith("/products/1") for _, labels in after)


def test_pool_and_cache_gauges_have_values(client: TestClient) -> None:
    samples = scrape(client)
    assert value(samples, "breakfix_db_pool_size_connections") == 5
    assert value(samples, "breakfix_db_pool_connections_in_use") >= 0
    assert {
        "breakfix_db_pool_connections_in_use",
        "breakfix_db_pool_overflow_connections",
        "breakfix_cache_size_bytes",
    } <= names(samples)
    pid = client.get("/products", params={"category": "tea"}).json()[0]["id"]
    assert client.get(f"/products/{pid}/price").status_code == 200
    assert value(scrape(client), "breakfix_cache_size_bytes") > 0


def test_upstream_success_and_error_counters(client: TestClient, hosts_file: Path) -> None:
    coffee = client.get("/products", params={"category": "coffee"}).json()
    assert client.get(f"/products/{coffee[0]['id']}/price").status_code == 200
    samples = scrape(client)
    upstream = "breakfix_upstream_requests_total"
    errors = "breakfix_upstream_errors_total"
    labels = {"dependency": "pricing", "route": "primary"}
    assert value(samples, upstream, outcome="success", **labels) == 1
    assert errors not in names(samples)

    write_hosts(hosts_file, {})
    assert client.get(f"/products/{coffee[1]['id']}/price").status_code == 503
    samples = scrape(client)
    assert value(samples, errors, **labels) == 1
    assert value(samples, upstream, outcome="name_resolution", **labels) == 1
    assert value(samples, upstream, outcome="success", **labels) == 1


def test_registry_is_per_app(make_app: AppFactory, app: FastAPI) -> None:
    other = make_app()
    try:
        assert other.state.runtime.metrics.registry is not app.state.runtime.metrics.registry
    finally:
        other.state.runtime.close()


def test_correlation_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
    assert given.headers["X-Correlation-ID"] == "abc-123"
    generated = client.get("/healthz").headers["X-Correlation-ID"]
    assert len(generated) == 32
    hostile = client.get("/healthz", headers={"X-Correlation-ID": 'x" y'})
    assert hostile.headers["X-Correlation-ID"] != 'x" y'
