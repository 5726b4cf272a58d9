"""Pricing: hosts-file resolution, the disk cache, stale serving and the byte budget."""

import json
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from target_server.upstream_stub.app import price_cents
from tests.support.asgi import TestClient, ThreadedServer
from tests.support.ports import free_port
from tests.support.target_server import FALLBACK_HOST, PRIMARY_HOST, AppFactory, write_hosts

SKU = "COF-001"


def product_id(client: TestClient, sku: str = SKU) -> int:
    listing = client.get("/products", params={"category": "coffee"}).json()
    return next(int(p["id"]) for p in listing if p["sku"] == sku)


def test_price_through_hosts_file_then_cache(client: TestClient, tmp_path: Path) -> None:
    pid = product_id(client)
    first = client.get(f"/products/{pid}/price").json()
    assert first["price_cents"] == price_cents(SKU)
    assert first["source"] == "primary"
    assert first["cached"] is False
    entry = json.loads((tmp_path / "cache" / f"price-{SKU}.json").read_text())
    assert entry["price_cents"] == price_cents(SKU)
    second = client.get(f"/products/{pid}/price").json()
    assert second["cached"] is True and second["stale"] is False


def test_removed_hosts_entry_is_a_name_resolution_failure(
    client: TestClient, hosts_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid = product_id(client)
    write_hosts(hosts_file, {FALLBACK_HOST: "127.0.0.1"})
    response = client.get(f"/products/{pid}/price")
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
    assert "name resolution failure" in caplog.text
    metrics = client.get("/metrics").text
    assert 'outcome="name_resolution",route="primary"} 1.0' in metrics
    # Putting the entry back is picked up without a restart (the file's mtime changed).
    write_hosts(hosts_file, {PRIMARY_HOST: "127.0.0.1"})
    assert client.get(f"/products/{pid}/price").status_code == 200


def test_fresh_cache_entry_survives_an_upstream_outage(
    client: TestClient, hosts_file: Path
) -> None:
    pid = product_id(client)
    assert client.get(f"/products/{pid}/price").status_code == 200
    write_hosts(hosts_file, {})
    cached = client.get(f"/products/{pid}/price")
    assert cached.status_code == 200
    assert cached.json()["cached"] is True


def test_stale_entry_served_when_upstream_down(
    make_app: AppFactory, hosts_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(make_app(cache_ttl_s=0)) as client:
        pid = product_id(client)
        assert client.get(f"/products/{pid}/price").json()["cached"] is False
        write_hosts(hosts_file, {})
        stale = client.get(f"/products/{pid}/price")
    assert stale.status_code == 200
    assert stale.json()["stale"] is True
    assert stale.json()["price_cents"] == price_cents(SKU)
    assert "serving stale price" in caplog.text


def test_fallback_route(make_app: AppFactory) -> None:
    with TestClient(make_app(pricing_route="fallback")) as client:
        body = client.get(f"/products/{product_id(client)}/price").json()
    assert body["source"] == "fallback"


def test_corrupt_cache_entry_fails_the_request(
    client: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    entry = cache_dir / f"price-{SKU}.json"
    entry.write_bytes(b"\x00garbage{{{")
    response = client.get(f"/products/{product_id(client)}/price")
    assert response.status_code == 500
    assert response.json()["code"] == "cache_corrupt"
    assert "cache entry corrupt" in caplog.text
    assert entry.read_bytes() == b"\x00garbage{{{"  # left for clear-cache, not papered over


def test_cache_budget_exceeded_still_serves(
    make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(make_app(cache_max_bytes=10)) as client:
        response = client.get(f"/products/{product_id(client)}/price")
        size = client.get("/metrics").text
    assert response.status_code == 200
    assert response.json()["price_cents"] == price_cents(SKU)
    assert "no space left" in caplog.text
    assert not (tmp_path / "cache" / f"price-{SKU}.json").exists()
    assert "breakfix_cache_size_bytes 0.0" in size


def test_order_fails_cleanly_when_upstream_unreachable_and_uncached(
    client: TestClient, hosts_file: Path
) -> None:
    write_hosts(hosts_file, {})
    pid = product_id(client, "COF-002")
    before = client.get(f"/inventory/{pid}").json()["quantity"]
    response = client.post("/orders", json={"items": [{"product_id": pid, "quantity": 1}]})
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"
    assert client.get(f"/inventory/{pid}").json()["quantity"] == before


def test_connects_to_resolved_ip_with_original_host_header(
    make_app: AppFactory, hosts_file: Path
) -> None:
    echo = FastAPI()

    @echo.get("/healthz")
    def healthz(request: Request) -> dict[str, str]:
        return {"host": request.headers["host"]}

    server = ThreadedServer(echo, free_port()).start()
    try:
        write_hosts(hosts_file, {"echo.breakfix.lab": "127.0.0.1"})
        app = make_app(pricing_primary_url=f"http://echo.breakfix.lab:{server.port}")
        with TestClient(app):
            response = app.state.runtime.pricing._send("/healthz")
    finally:
        server.stop()
    assert response.json() == {"host": f"echo.breakfix.lab:{server.port}"}
