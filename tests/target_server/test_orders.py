"""Orders: one transaction each, row locks, refusal without side effects, cancellation."""

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine, event, select, text
from sqlalchemy.orm import Mapper

from target_server.models import Inventory, OrderLine
from target_server.upstream_stub.app import price_cents
from tests.support.asgi import TestClient
from tests.support.target_server import delete_product_with_orders, new_product


def stock(client: TestClient, product_id: int) -> int:
    quantity: int = client.get(f"/inventory/{product_id}").json()["quantity"]
    return quantity


def place(client: TestClient, *lines: tuple[dict[str, Any], int]) -> httpx.Response:
    """POST /orders with one line per (product, quantity), in that order."""
    items = [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines]
    return client.post("/orders", json={"items": items})


def test_order_decrements_stock_and_prices_lines(client: TestClient) -> None:
    a = new_product(client, quantity=5)
    b = new_product(client, quantity=2)
    response = place(client, (b, 2), (a, 3))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "placed"
    lines = {line["product_id"]: line for line in order["lines"]}
    assert lines[a["id"]]["unit_price_cents"] == price_cents(a["sku"])
    assert order["total_cents"] == 3 * price_cents(a["sku"]) + 2 * price_cents(b["sku"])
    assert stock(client, a["id"]) == 2
    assert stock(client, b["id"]) == 0
    assert client.get(f"/orders/{order['id']}").json() == order


def test_failed_order_leaves_inventory_untouched(client: TestClient) -> None:
    plenty = new_product(client, quantity=10)
    scarce = new_product(client, quantity=1)
    response = place(client, (plenty, 4), (scarce, 2))
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert str(scarce["id"]) in response.json()["detail"]
    assert stock(client, plenty["id"]) == 10
    assert stock(client, scarce["id"]) == 1


def test_cancel_restores_stock_once(client: TestClient) -> None:
    product = new_product(client, quantity=3)
    order = client.post("/orders", json={"items": [{"product_id": product["id"], "quantity": 2}]})
    assert stock(client, product["id"]) == 1
    cancelled = client.post(f"/orders/{order.json()['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert stock(client, product["id"]) == 3
    again = client.post(f"/orders/{order.json()['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "order_not_cancellable"
    assert stock(client, product["id"]) == 3


def test_order_validation(client: TestClient) -> None:
    empty = client.post("/orders", json={"items": []})
    assert empty.status_code == 422
    assert empty.json()["code"] == "validation_error"
    zero = client.post("/orders", json={"items": [{"product_id": 1, "quantity": 0}]})
    assert ["body", "items", 0, "quantity"] in [e["loc"] for e in zero.json()["detail"]]
    unknown = client.post("/orders", json={"items": [{"product_id": 999999, "quantity": 1}]})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_concurrent_orders_for_the_last_unit(
    committed_client: TestClient, db_engine: Engine
) -> None:
    sku = f"LAST-{uuid.uuid4().hex[:8]}"
    created = committed_client.post(
        "/products", json={"sku": sku, "name": "Last one", "quantity": 1}
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[Any] = []

    def buy() -> None:
        barrier.wait(timeout=10)
        response = committed_client.post(
            "/orders", json={"items": [{"product_id": pid, "quantity": 1}]}
        )
        results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=buy) for _ in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        statuses = sorted(status for status, _ in results)
        assert statuses == [201] + [409] * (workers - 1)
        assert all(
            body["code"] == "insufficient_stock" for status, body in results if status == 409
        )
        with db_engine.connect() as conn:
            left = conn.execute(
                text("SELECT quantity FROM inventory WHERE product_id = :p"), {"p": pid}
            ).scalar_one()
            orders = conn.execute(
                text("SELECT count(DISTINCT order_id) FROM order_lines WHERE product_id = :p"),
                {"p": pid},
            ).scalar_one()
        assert left == 0
        assert orders == 1
    finally:
        delete_product_with_orders(db_engine, pid)


def test_product_with_orders_cannot_be_deleted(client: TestClient) -> None:
    product = new_product(client, quantity=1)
    client.post("/orders", json={"items": [{"product_id": product["id"], "quantity": 1}]})
    response = client.delete(f"/products/{product['id']}")
    assert response.status_code == 409
    assert client.get(f"/products/{product['id']}").status_code == 200


@pytest.fixture
def committed_product(committed_client: TestClient, db_engine: Engine) -> Iterator[int]:
    """A product with 5 units, committed for real, deleted (with its orders) afterwards."""
    sku = f"RB-{uuid.uuid4().hex[:8]}"
    created = committed_client.post("/products", json={"sku": sku, "name": "Rb", "quantity": 5})
    assert created.status_code == 201
    pid: int = created.json()["id"]
    yield pid
    delete_product_with_orders(db_engine, pid)


def test_failure_after_the_decrement_rolls_everything_back(
    committed_client: TestClient, committed_product: int, db_engine: Engine
) -> None:
    pid = committed_product
    seen_in_transaction: list[int] = []

    def fail_line_insert(mapper: Mapper[Any], connection: Connection, target: OrderLine) -> None:
        # Inside the order's transaction: the decrement has reached the database already.
        quantity = connection.execute(
            select(Inventory.quantity).where(Inventory.product_id == pid)
        ).scalar_one()
        seen_in_transaction.append(quantity)
        raise RuntimeError("order line insert failed")

    with db_engine.connect() as conn:
        orders_before = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
    event.listen(OrderLine, "before_insert", fail_line_insert)
    try:
        response = committed_client.post(
            "/orders", json={"items": [{"product_id": pid, "quantity": 2}]}
        )
    finally:
        event.remove(OrderLine, "before_insert", fail_line_insert)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "code": "internal_error"}
    assert seen_in_transaction == [3]
    with db_engine.connect() as conn:
        left = conn.execute(
            text("SELECT quantity FROM inventory WHERE product_id = :p"), {"p": pid}
        ).scalar_one()
        orders_after = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
        lines = conn.execute(
            text("SELECT count(*) FROM order_lines WHERE product_id = :p"), {"p": pid}
        ).scalar_one()
    assert left == 5
    assert orders_after == orders_before
    assert lines == 0
    # The pooled connection came back clean: the next order goes through.
    ok = committed_client.post("/orders", json={"items": [{"product_id": pid, "quantity": 2}]})
    assert ok.status_code == 201
    assert stock(committed_client, pid) == 3
