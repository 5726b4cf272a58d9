"""The target's HTTP boundary (issue 13, items 4 and 8): body limits, strict types, plain ids."""

from typing import Any

import pytest

from tests.support.asgi import TestClient
from tests.support.hostile_bodies import Chunks, nested_json, post_chunked_served
from tests.support.target_server import AppFactory, new_product


def test_a_chunked_body_over_the_limit_is_refused(make_app: AppFactory) -> None:
    response = post_chunked_served(make_app(), "/orders", Chunks())
    assert response.status_code == 413
    assert response.json() == {
        "detail": "request bodies are limited to 65536 bytes",
        "code": "payload_too_large",
        "limit_bytes": 65536,
    }


def test_json_nested_too_deep_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/orders", content=nested_json(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "json_too_deep"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/orders", {"items": [{"product_id": "{id}", "quantity": True}]}),
        ("/orders", {"items": [{"product_id": True, "quantity": 1}]}),
        ("/orders", {"items": [{"product_id": "{id}", "quantity": 1.0}]}),
        ("/products", {"sku": "T-strict", "name": "Strict", "quantity": True}),
    ],
)
def test_booleans_and_floats_are_not_counts(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    product = new_product(client, quantity=5)
    sent = _with_id(body, product["id"])
    response = client.post(path, json=sent)
    assert response.status_code == 422, response.text
    assert client.get(f"/inventory/{product['id']}").json()["quantity"] == 5


def test_a_stock_level_is_not_a_boolean(client: TestClient) -> None:
    product = new_product(client, quantity=5)
    response = client.put(f"/inventory/{product['id']}", json={"quantity": True})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("spelling", ["+{id}", "%20{id}", "{id}%20", "0{id}", "{id}.0", "{id}_0"])
def test_path_ids_are_plain_digits(client: TestClient, spelling: str) -> None:
    product = new_product(client)
    path = f"/products/{spelling.format(id=product['id'])}"
    response = client.get(path)
    assert response.status_code == 422, (path, response.text)
    assert client.get(f"/products/{product['id']}").status_code == 200


def test_a_validation_error_echoes_a_bounded_part_of_the_input(client: TestClient) -> None:
    response = client.post("/products", json={"sku": "T-echo", "name": "n", "k" * 60_000: 1})
    assert response.status_code == 422
    assert len(response.content) < 2_000
    (error,) = response.json()["detail"]
    assert error["loc"][0] == "body" and error["loc"][1].startswith("kkk")


def _with_id(body: Any, product_id: int) -> Any:
    if isinstance(body, dict):
        return {key: _with_id(value, product_id) for key, value in body.items()}
    if isinstance(body, list):
        return [_with_id(value, product_id) for value in body]
    return product_id if body == "{id}" else body
