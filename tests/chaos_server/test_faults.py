"""Each implemented fault: injected for real, its symptom observed, reverted to as before."""

from typing import Any

import httpx
import psycopg2
import pytest
from psycopg2 import errors

from breakfix.background import BackgroundLab
from lab.runtime.local import LocalRuntime
from tests.support.asgi import TestClient
from tests.support.chaos_lab import products_ok, target_url, wait_for

pytestmark = pytest.mark.slow


def _fault(chaos: TestClient, fault: str) -> dict[str, object]:
    response = chaos.get(f"/faults/{fault}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_api_crash_kills_the_target_and_the_revert_starts_one_copy(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    before = runtime.status("target").pid
    created = chaos.post("/break/api-crash", json={"target": "target", "ttl_s": 60})
    assert created.status_code == 201, created.text
    assert _fault(chaos, created.json()["id"])["state"] == "active"
    assert runtime.status("target").pid is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(target_url(lab, "/ready"), timeout=2)

    reverted = chaos.delete(f"/faults/{created.json()['id']}")
    assert reverted.json()["state"] == "reverted"
    status = runtime.status("target")
    assert status.pid is not None and status.pid != before and status.health == "healthy"
    assert products_ok(lab)
    # Reverting again changes nothing: still one process, the same one.
    chaos.delete(f"/faults/{created.json()['id']}")
    assert runtime.status("target").pid == status.pid


def test_api_crash_revert_keeps_a_restart_made_by_someone_else(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    created = chaos.post("/break/api-crash", json={"ttl_s": 60}).json()
    runtime.start("target")  # the agent fixed it first
    wait_for(lambda: runtime.status("target").health == "healthy", what="target healthy")
    fixed = runtime.status("target").pid
    assert chaos.delete(f"/faults/{created['id']}").json()["state"] == "reverted"
    assert runtime.status("target").pid == fixed


def test_api_hang_freezes_the_target_and_the_revert_thaws_it(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    pid = runtime.status("target").pid
    created = chaos.post("/break/api-hang", json={"ttl_s": 60})
    assert created.status_code == 201, created.text
    with pytest.raises(httpx.TimeoutException):
        httpx.get(target_url(lab, "/ready"), timeout=1.5)

    assert chaos.delete(f"/faults/{created.json()['id']}").json()["state"] == "reverted"
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200
    assert runtime.status("target").pid == pid
    assert products_ok(lab)


def _select_products(lab_dsn: dict[str, Any]) -> None:
    conn = psycopg2.connect(**lab_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '1s'")
            cur.execute("SELECT count(*) FROM products")
    finally:
        conn.close()


def test_db_lock_blocks_products_until_reverted(chaos: TestClient, lab: BackgroundLab) -> None:
    parts = chaos.app.state.parts  # type: ignore[attr-defined]
    cluster = parts.ctx.target_db
    dsn = {
        "host": str(cluster.socket_dir),
        "port": cluster.port,
        "user": "postgres",
        "dbname": "shop",
    }
    created = chaos.post("/break/db-lock", json={"target": "target-db", "ttl_s": 60})
    assert created.status_code == 201, created.text
    with pytest.raises(errors.LockNotAvailable):
        _select_products(dsn)
    assert not products_ok(lab, timeout=8)

    assert chaos.delete(f"/faults/{created.json()['id']}").json()["state"] == "reverted"
    _select_products(dsn)
    wait_for(lambda: products_ok(lab), what="products readable")


def test_db_lock_revert_is_safe_after_someone_terminated_the_session(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    cluster = chaos.app.state.parts.ctx.target_db  # type: ignore[attr-defined]
    created = chaos.post("/break/db-lock", json={"ttl_s": 60}).json()
    admin = cluster.connect()
    try:
        with admin.cursor() as cur:  # what terminate-db-blockers does
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'breakfix-chaos'"
            )
    finally:
        admin.close()
    wait_for(lambda: products_ok(lab), what="products readable")
    reverted = chaos.delete(f"/faults/{created['id']}").json()
    assert reverted["state"] == "reverted" and reverted["error"] is None


def test_ttl_expiry_reverts_with_no_request(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    created = chaos.post("/break/api-hang", json={"ttl_s": 1}).json()
    wait_for(lambda: _fault(chaos, created["id"])["state"] == "reverted", timeout=15, what="expiry")
    row = _fault(chaos, created["id"])
    assert row["revert_reason"] == "expired"
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200


def test_noop_changes_nothing_and_is_recorded(chaos: TestClient) -> None:
    created = chaos.post("/break/noop", json={"params": {"intensity": 0.5}})
    assert created.status_code == 201
    listed = chaos.get("/faults", params={"state": "active", "fault_id": "noop"}).json()
    assert [f["id"] for f in listed] == [created.json()["id"]]
    # The intent carries the fault key, so a revert after a crash can name what it made.
    assert listed[0]["revert_data"]["fault_key"] == created.json()["id"]
    assert chaos.delete(f"/faults/{created.json()['id']}").json()["state"] == "reverted"
