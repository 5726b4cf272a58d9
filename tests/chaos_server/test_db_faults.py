"""The database faults on a real lab: schema drift, auth failure, data loss."""

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import psycopg2
import pytest

from breakfix.background import BackgroundLab
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import APP_DB, APP_PASSWORD, APP_ROLE
from target_server import migrations
from tests.support.asgi import TestClient
from tests.support.chaos_lab import products_ok, target_url, wait_for

pytestmark = pytest.mark.slow


def _cluster(chaos: TestClient) -> Cluster:
    cluster: Cluster = chaos.app.state.parts.ctx.target_db  # type: ignore[attr-defined]
    return cluster


def _ready(lab: BackgroundLab) -> httpx.Response:
    return httpx.get(target_url(lab, "/ready"), timeout=10)


def _break(chaos: TestClient, fault: str, **params: Any) -> str:
    created = chaos.post(f"/break/{fault}", json={"ttl_s": 120, "params": params})
    assert created.status_code == 201, created.text
    key: str = created.json()["id"]
    return key


def _revert(chaos: TestClient, key: str) -> None:
    reverted = chaos.delete(f"/faults/{key}").json()
    assert reverted["state"] == "reverted" and reverted["error"] is None, reverted


def _count(chaos: TestClient, table: str) -> int:
    conn = _cluster(chaos).connect(APP_DB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def _app_url(lab: BackgroundLab) -> str:
    from lab.envfile import read_env

    return read_env(StatePaths.at(lab.state_dir).target_env)["TARGET_DATABASE_URL"]


def test_schema_drift_fails_readiness_until_reverted(chaos: TestClient, lab: BackgroundLab) -> None:
    url, head = _app_url(lab), migrations.head_revision()
    categories = {p["id"]: p["category"] for p in httpx.get(target_url(lab, "/products")).json()}
    key = _break(chaos, "schema-drift")
    assert migrations.current_revision(url) != head
    ready = _ready(lab)
    assert ready.status_code == 503 and ready.json()["checks"]["migrations"]["ok"] is False
    assert not products_ok(lab)
    # Refused while drifted: the current revision is not head.
    assert chaos.post("/break/schema-drift", json={"ttl_s": 60}).status_code == 409

    _revert(chaos, key)
    assert migrations.current_revision(url) == head
    wait_for(lambda: _ready(lab).status_code == 200, what="target ready")
    after = {p["id"]: p["category"] for p in httpx.get(target_url(lab, "/products")).json()}
    assert after == categories
    _revert(chaos, key)  # twice: nothing changes


def test_schema_drift_revert_keeps_the_agents_migration(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    key = _break(chaos, "schema-drift")
    migrations.upgrade(_app_url(lab))  # run-migrations, as the agent would
    _revert(chaos, key)
    assert migrations.current_revision(_app_url(lab)) == migrations.head_revision()
    wait_for(lambda: _ready(lab).status_code == 200, what="target ready")


def _app_connect(chaos: TestClient, lab: BackgroundLab) -> None:
    cluster = _cluster(chaos)
    password = read_secret(StatePaths.at(lab.state_dir).secret(APP_PASSWORD))
    conn = psycopg2.connect(
        host=cluster.host,
        port=cluster.port,
        user=APP_ROLE,
        password=password,
        dbname=APP_DB,
        connect_timeout=3,
    )
    conn.close()


def _db_check_failing(lab: BackgroundLab) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return _ready(lab).json()["checks"]["db"]["ok"] is False
        except httpx.HTTPError:
            return False  # still starting

    return check


def test_db_auth_failure_refuses_the_app_password_until_reverted(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    key = _break(chaos, "db-auth-failure")
    assert "password" not in str(chaos.get(f"/faults/{key}").json()["revert_data"]).replace(
        "db-auth", ""
    )
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _app_connect(chaos, lab)
    runtime.restart("target")  # fresh pool: the stale password is refused
    wait_for(lambda: runtime.status("target").pid is not None, what="target up")
    wait_for(_db_check_failing(lab), what="db check failing")

    _revert(chaos, key)
    _app_connect(chaos, lab)
    wait_for(lambda: runtime.status("target").health == "healthy", what="target healthy")
    assert _ready(lab).status_code == 200
    _revert(chaos, key)
    _app_connect(chaos, lab)


def _order(lab: BackgroundLab) -> dict[str, Any]:
    client = httpx.Client(base_url=target_url(lab), timeout=10)
    with client:
        sku = "CHAOS-" + secrets.token_hex(4).upper()
        product = client.post("/products", json={"sku": sku, "name": "chaos", "quantity": 5})
        assert product.status_code == 201, product.text
        items = [{"product_id": product.json()["id"], "quantity": 1}]
        order = client.post("/orders", json={"items": items})
        assert order.status_code == 201, order.text
        body: dict[str, Any] = order.json()
        return body


def test_db_data_loss_empties_orders_and_the_revert_restores_them(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    order = _order(lab)
    orders, lines = _count(chaos, "orders"), _count(chaos, "order_lines")
    key = _break(chaos, "db-data-loss", table="orders")
    assert _count(chaos, "orders") == 0 and _count(chaos, "order_lines") == 0
    assert httpx.get(target_url(lab, f"/orders/{order['id']}")).status_code == 404

    _revert(chaos, key)
    assert (_count(chaos, "orders"), _count(chaos, "order_lines")) == (orders, lines)
    assert httpx.get(target_url(lab, f"/orders/{order['id']}")).json() == order
    _revert(chaos, key)
    assert _count(chaos, "orders") == orders
    assert _saved_tables(chaos) == 0
    newer = _order(lab)  # the identity sequence was not set back
    assert newer["id"] > order["id"]


def test_db_data_loss_revert_never_duplicates_rows_someone_restored(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    _order(lab)
    lines = _count(chaos, "order_lines")
    conn = _cluster(chaos).connect(APP_DB)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE snap AS SELECT * FROM order_lines")
            key = _break(chaos, "db-data-loss")
            assert _count(chaos, "order_lines") == 0
            cur.execute("INSERT INTO order_lines SELECT * FROM snap")  # the agent's restore
    finally:
        conn.close()
    _revert(chaos, key)
    assert _count(chaos, "order_lines") == lines
    assert _saved_tables(chaos) == 0


def _saved_tables(chaos: TestClient) -> int:
    conn = _cluster(chaos).connect(APP_DB)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'breakfix_chaos'")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()
