"""The error contract: every error body is `{"detail": ..., "code": ...}`, never a 500."""

import pytest

from target_server.upstream_stub.app import price_cents
from tests.support.asgi import TestClient
from tests.support.target_server import new_product

TOO_BIG = 3_000_000_000  # beyond Postgres int4


def test_unknown_route_is_a_coded_404(client: TestClient) -> None:
    response = client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


def test_wrong_method_is_a_coded_405(client: TestClient) -> None:
    response = client.delete("/products")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed", "code": "method_not_allowed"}
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize("field", ["name", "description", "category"])
def test_patch_with_null_is_refused(client: TestClient, field: str) -> None:
    product = new_product(client, description="kept")
    response = client.patch(f"/products/{product['id']}", json={field: None})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert ["body", field] in [err["loc"] for err in response.json()["detail"]]
    unchanged = client.get(f"/products/{product['id']}").json()
    assert unchanged[field] == product[field]


def test_patch_omitting_every_field_changes_nothing(client: TestClient) -> None:
    product = new_product(client)
    response = client.patch(f"/products/{product['id']}", json={})
    assert response.status_code == 200
    assert response.json() == product


def test_out_of_range_bodies_are_422(client: TestClient) -> None:
    pid = new_product(client)["id"]
    for method, path, body, loc in [
        ("POST", "/products", {"sku": "BIG-1", "name": "Big", "quantity": TOO_BIG}, "quantity"),
        ("PUT", f"/inventory/{pid}", {"quantity": TOO_BIG}, "quantity"),
        ("POST", "/orders", {"items": [{"product_id": TOO_BIG, "quantity": 1}]}, "product_id"),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["code"] == "validation_error"
        assert loc in [err["loc"][-1] for err in response.json()["detail"]]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/products/99999999999", None),
        ("PATCH", "/products/99999999999", {"name": "x"}),
        ("DELETE", "/products/99999999999", None),
        ("GET", "/products/99999999999/price", None),
        ("GET", "/inventory/99999999999", None),
        ("PUT", "/inventory/99999999999", {"quantity": 1}),
        ("GET", "/orders/99999999999", None),
        ("POST", "/orders/99999999999/cancel", None),
        ("GET", "/products?offset=99999999999999999999", None),
    ],
)
def test_out_of_range_path_and_query_values_are_422(
    client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


def test_order_total_beyond_int4_is_refused(client: TestClient) -> None:
    # 100 lines of 10,000 units: a price above 21.48 puts the total beyond int4.
    sku = next(f"PRICY-{n}" for n in range(1000) if price_cents(f"PRICY-{n}") > 5000)
    product = new_product(client, sku=sku, quantity=2_000_000_000)
    items = [{"product_id": product["id"], "quantity": 10_000}] * 100
    response = client.post("/orders", json={"items": items})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "order_too_large"
    assert client.get(f"/inventory/{product['id']}").json()["quantity"] == 2_000_000_000
