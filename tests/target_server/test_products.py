"""Products and inventory: CRUD, validation and not-found answers."""

from tests.support.asgi import TestClient
from tests.support.target_server import new_product


def test_seeded_catalogue_is_listed_with_pagination(client: TestClient) -> None:
    first = client.get("/products", params={"limit": 5}).json()
    second = client.get("/products", params={"limit": 5, "offset": 5}).json()
    assert len(first) == 5 and len(second) == 5
    assert {p["id"] for p in first}.isdisjoint({p["id"] for p in second})
    assert [p["id"] for p in first] == sorted(p["id"] for p in first)


def test_category_filter(client: TestClient) -> None:
    tea = client.get("/products", params={"category": "tea", "limit": 200}).json()
    assert {p["sku"] for p in tea} == {"TEA-001", "TEA-002", "TEA-003"}


def test_create_read_update_delete(client: TestClient) -> None:
    created = new_product(client, category="gadgets", description="<b>bold</b>")
    pid = created["id"]
    assert client.get(f"/products/{pid}").json()["sku"] == created["sku"]
    assert client.get(f"/inventory/{pid}").json()["quantity"] == 5

    patched = client.patch(f"/products/{pid}", json={"name": "Renamed"})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["category"] == "gadgets"

    assert client.delete(f"/products/{pid}").status_code == 204
    gone = client.get(f"/products/{pid}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert client.get(f"/inventory/{pid}").json()["code"] == "not_found"


def test_duplicate_sku_is_a_conflict(client: TestClient) -> None:
    created = new_product(client)
    again = client.post("/products", json={"sku": created["sku"], "name": "Dup"})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    # The failed insert rolled back only its own work: the first product is intact.
    assert client.get(f"/products/{created['id']}").status_code == 200


def test_invalid_payload_names_the_fields(client: TestClient) -> None:
    response = client.post("/products", json={"sku": "bad sku!", "quantity": -1})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    fields = {tuple(err["loc"]) for err in body["detail"]}
    assert {("body", "sku"), ("body", "name"), ("body", "quantity")} <= fields


def test_unknown_ids_are_404(client: TestClient) -> None:
    for method, path, body in [
        ("GET", "/products/999999", None),
        ("PATCH", "/products/999999", {"name": "x"}),
        ("DELETE", "/products/999999", None),
        ("GET", "/inventory/999999", None),
        ("PUT", "/inventory/999999", {"quantity": 1}),
        ("GET", "/orders/999999", None),
        ("POST", "/orders/999999/cancel", None),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"


def test_inventory_put_validates_and_sets(client: TestClient) -> None:
    pid = new_product(client)["id"]
    bad = client.put(f"/inventory/{pid}", json={"quantity": -3})
    assert bad.status_code == 422
    assert ["body", "quantity"] in [err["loc"] for err in bad.json()["detail"]]
    ok = client.put(f"/inventory/{pid}", json={"quantity": 42})
    assert ok.status_code == 200
    assert client.get(f"/inventory/{pid}").json()["quantity"] == 42


def test_html_page_escapes_values(client: TestClient) -> None:
    new_product(client, name="<script>alert(1)</script>")
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "COF-001" in page.text
