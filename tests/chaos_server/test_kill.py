"""The kill switch: reverts every open fault, latches, and the latch survives a restart."""

import httpx
import pytest
from sqlalchemy import Engine, text

from breakfix.background import BackgroundLab
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from tests.support.chaos_checks import locked_tables, stopped
from tests.support.chaos_lab import ChaosFactory, products_ok, target_url

pytestmark = pytest.mark.slow


def test_kill_reverts_three_faults_latches_and_survives_a_restart(
    make_chaos: ChaosFactory, lab: BackgroundLab, runtime: LocalRuntime, ops_engine: Engine
) -> None:
    chaos = make_chaos()
    ids = [
        chaos.post("/break/api-hang", json={"target": "target"}).json()["id"],
        chaos.post("/break/db-lock", json={"target": "target-db"}).json()["id"],
        chaos.post("/break/api-crash", json={"target": "upstream-primary"}).json()["id"],
    ]
    assert len(chaos.get("/faults", params={"state": "active"}).json()) == 3

    killed = chaos.post(
        "/kill", json={"reason": "game day over"}, headers={"X-Correlation-ID": "k1"}
    )
    assert killed.status_code == 200, killed.text
    assert sorted(killed.json()["reverted"]) == sorted(ids) and killed.json()["failed"] == []
    assert chaos.get("/faults", params={"state": "active"}).json() == []
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200
    assert products_ok(lab)
    assert runtime.status("upstream-primary").health == "healthy"

    refused = chaos.post("/break/noop", json={})
    assert refused.status_code == 409 and refused.json()["code"] == "kill_switch_engaged"

    # A second chaos server on the same ops-db (a restart) still sees the latch.
    restarted = make_chaos()
    latch = restarted.get("/kill").json()
    assert latch["engaged"] is True and latch["reason"] == "game day over"
    assert restarted.post("/break/noop", json={}).json()["code"] == "kill_switch_engaged"

    assert restarted.post("/kill/release").json()["engaged"] is False
    assert chaos.post("/break/noop", json={}).status_code == 201

    with ops_engine.connect() as conn:
        kinds = (
            conn.execute(text("SELECT kind FROM chaos_events WHERE correlation_id = 'k1'"))
            .scalars()
            .all()
        )
        reverts = conn.execute(
            text(
                "SELECT count(*) FROM chaos_events WHERE kind = 'revert'"
                " AND data->>'kill_correlation_id' = 'k1'"
            )
        ).scalar_one()
    assert kinds == ["kill"] and reverts == 3


def test_kill_with_the_target_frozen_leaves_nothing_open_when_it_answers(
    make_chaos: ChaosFactory, runtime: LocalRuntime
) -> None:
    chaos = make_chaos(max_concurrent=6, max_per_target=4)
    cluster: Cluster = chaos.app.state.parts.ctx.target_db  # type: ignore[attr-defined]
    pid = runtime.status("target").pid
    assert pid is not None
    opened = [  # api-hang last: the in-process hooks need a target that answers
        ("api-latency", "target", {}),
        ("db-lock", "target-db", {"table": "products"}),
        ("db-lock", "target-db", {"table": "orders"}),
        ("upstream-outage", "upstream-primary", {}),
        ("api-hang", "target", {}),
    ]
    ids = []
    for fault, target, params in opened:
        created = chaos.post(f"/break/{fault}", json={"target": target, "params": params})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    assert stopped(pid)
    assert locked_tables(cluster, ["products", "orders"]) == ["products", "orders"]

    killed = chaos.post("/kill")

    # Checked the moment it answers: no waiting for anything to settle.
    assert not stopped(pid)
    assert locked_tables(cluster, ["products", "orders"]) == []
    assert killed.status_code == 200, killed.text
    assert sorted(killed.json()["reverted"]) == sorted(ids) and killed.json()["failed"] == []
    states = {chaos.get(f"/faults/{fault}").json()["state"] for fault in ids}
    assert states == {"reverted"}
    assert chaos.get("/kill").json()["engaged"] is True
