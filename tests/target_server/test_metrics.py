"""/metrics: the contract's metric names and per-route-template counting."""

from fastapi import FastAPI

from tests.target_server.helpers import AppFactory, TestClient

NAMES = (
    "breakfix_http_requests_total",
    "breakfix_http_request_duration_seconds_bucket",
    "breakfix_db_pool_connections_in_use",
    "breakfix_db_pool_overflow_connections",
    "breakfix_db_pool_size_connections",
    "breakfix_cache_size_bytes",
    "breakfix_upstream_requests_total",
    "breakfix_upstream_errors_total",
)


def test_metric_names_and_route_templates(client: TestClient) -> None:
    client.get("/products/1")
    client.get("/products/2")
    client.get("/products/999999")
    client.get("/products/1/price")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    for name in NAMES:
        assert name in text, name
    assert (
        'breakfix_http_requests_total{method="GET",route="/products/{product_id}",status="200"} 2.0'
        in text
    )
    assert (
        'breakfix_http_requests_total{method="GET",route="/products/{product_id}",status="404"} 1.0'
        in text
    )
    assert 'route="/products/1"' not in text
    assert 'route="<unmatched>",status="404"' in text
    assert (
        'breakfix_upstream_requests_total{dependency="pricing",outcome="success",route="primary"}'
        in text
    )
    assert "breakfix_db_pool_size_connections 5.0" in text


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
