"""A slow pricing upstream must not hold pooled connections: other requests keep working."""

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from target_server.upstream_stub.app import price_cents
from tests.support.asgi import TestClient, ThreadedServer
from tests.support.ports import free_port
from tests.support.target_server import AppFactory, delete_product_with_orders

UPSTREAM_DELAY_S = 1.5


@dataclass
class SlowStub:
    """A pricing stub that answers /prices only after a delay, and says when a call arrived."""

    port: int
    entered: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def slow_stub() -> Iterator[SlowStub]:
    """The slow stub on a free loopback port."""
    stub = SlowStub(port=free_port())
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/prices/{sku}")
    def prices(sku: str) -> dict[str, str | int]:
        stub.entered.set()
        time.sleep(UPSTREAM_DELAY_S)
        return {"sku": sku, "price_cents": price_cents(sku), "currency": "EUR", "source": "slow"}

    server = ThreadedServer(app, stub.port).start()
    yield stub
    server.stop()


@pytest.fixture
def one_connection_client(make_app: AppFactory, slow_stub: SlowStub) -> Iterator[TestClient]:
    """An app with a real pool of exactly one connection that gives up waiting quickly."""
    app = make_app(
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_s=0.5,
        pricing_primary_url=f"http://127.0.0.1:{slow_stub.port}",
        pricing_timeout_s=10.0,
    )
    with TestClient(app) as client:
        yield client


def _in_background(
    client: TestClient, method: str, path: str, **kwargs: Any
) -> tuple[threading.Thread, dict[str, httpx.Response]]:
    """Start one request in a thread; its response lands in the returned dict."""
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["response"] = client.request(method, path, **kwargs)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, result


def _listing_served_meanwhile(
    client: TestClient, slow_stub: SlowStub, what: str, method: str, path: str, **kwargs: Any
) -> dict[str, httpx.Response]:
    """Start `what` in the background; once it waits on the upstream, GET /products must be
    served (the only pooled connection must be free while the upstream is thinking); then
    wait for `what` to finish: its response lands in the returned dict."""
    thread, result = _in_background(client, method, path, **kwargs)
    try:
        assert slow_stub.entered.wait(timeout=10), f"{what} never reached the upstream"
        listing = client.get("/products")
        assert listing.status_code == 200, listing.text
    finally:
        thread.join(timeout=30)
    return result


def test_listing_served_while_a_price_call_waits_on_the_upstream(
    one_connection_client: TestClient, slow_stub: SlowStub
) -> None:
    client = one_connection_client
    pid = client.get("/products", params={"limit": 1}).json()[0]["id"]
    result = _listing_served_meanwhile(
        client, slow_stub, "the price call", "GET", f"/products/{pid}/price"
    )
    assert result["response"].status_code == 200
    assert result["response"].json()["source"] == "slow"


def test_listing_served_while_an_order_waits_on_the_upstream(
    one_connection_client: TestClient, slow_stub: SlowStub, db_engine: Engine
) -> None:
    client = one_connection_client
    created = client.post(
        "/products", json={"sku": f"SLOW-{uuid.uuid4().hex[:8]}", "name": "Slow", "quantity": 3}
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    try:
        order = {"items": [{"product_id": pid, "quantity": 2}]}
        result = _listing_served_meanwhile(
            client, slow_stub, "the order", "POST", "/orders", json=order
        )
        assert result["response"].status_code == 201, result["response"].text
        assert client.get(f"/inventory/{pid}").json()["quantity"] == 1
    finally:
        delete_product_with_orders(db_engine, pid)
