"""Write-ahead: faults left by a dead injector are reverted when a chaos server starts."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from breakfix.background import BackgroundLab
from lab.runtime.local import LocalRuntime
from tests.support.chaos_lab import ChaosFactory, products_ok, target_url, wait_for

pytestmark = pytest.mark.slow


def _insert(engine: Engine, **row: Any) -> uuid.UUID:
    fault = uuid.uuid4()
    now = datetime.now(UTC)
    values = {
        "id": fault,
        "params": "{}",
        "ttl_s": 600,
        "correlation_id": f"test-{fault.hex[:8]}",
        "created_at": now,
        "expires_at": now + timedelta(minutes=10),
        **row,
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chaos_faults (id, fault_id, target, params, ttl_s, state,"
                " revert_data, injector, correlation_id, created_at, expires_at) VALUES"
                " (:id, :fault_id, :target, CAST(:params AS jsonb), :ttl_s, :state,"
                " CAST(:revert_data AS jsonb), :injector, :correlation_id, :created_at,"
                " :expires_at)"
            ),
            values,
        )
    return fault


def _state(engine: Engine, fault: uuid.UUID) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT state, revert_reason FROM chaos_faults WHERE id = :id"), {"id": fault}
        ).one()
    return row[0], row[1]


def test_start_reverts_faults_of_a_dead_injector_and_keeps_a_live_ones(
    make_chaos: ChaosFactory, lab: BackgroundLab, runtime: LocalRuntime, ops_engine: Engine
) -> None:
    dead, alive = secrets.randbits(62) + 1, secrets.randbits(62) + 1
    # A chaos server froze the target and recorded it, then died (SIGKILL).
    pid = runtime.status("target").pid
    runtime.signal("target", "SIGSTOP")
    hung = _insert(
        ops_engine,
        fault_id="api-hang",
        target="target",
        state="active",
        injector=dead,
        revert_data=f'{{"service": "target", "pid": {pid}}}',
    )
    # Another recorded its intent, killed upstream-primary, and died before recording it.
    runtime.signal("upstream-primary", "SIGKILL")
    wait_for(lambda: runtime.status("upstream-primary").pid is None, what="upstream down")
    crashed = _insert(
        ops_engine,
        fault_id="api-crash",
        target="upstream-primary",
        state="intended",
        injector=dead,
        revert_data='{"service": "upstream-primary"}',
    )
    # A live chaos server's fault (it holds its lease) must be left alone.
    with ops_engine.connect() as lease:
        lease.execute(text("SELECT pg_advisory_lock(:k)"), {"k": alive})
        kept = _insert(
            ops_engine,
            fault_id="noop",
            target="upstream-fallback",
            state="active",
            injector=alive,
            revert_data="{}",
        )
        make_chaos()  # start: reconcile runs before the app serves
        assert _state(ops_engine, hung) == ("reverted", "injector_died")
        assert _state(ops_engine, crashed) == ("reverted", "injector_died")
        assert _state(ops_engine, kept) == ("active", None)
        lease.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": alive})
        lease.commit()
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200
    assert runtime.status("target").pid == pid and products_ok(lab)
    assert runtime.status("upstream-primary").health == "healthy"
    # The lease is gone now: the watchdog takes the last one over.
    wait_for(lambda: _state(ops_engine, kept)[0] == "reverted", what="orphan reverted")


def test_expired_fault_of_a_dead_injector_is_reverted(
    make_chaos: ChaosFactory, ops_engine: Engine
) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    fault = _insert(
        ops_engine,
        fault_id="noop",
        target="target",
        state="reverting",
        injector=secrets.randbits(62) + 1,
        revert_data="{}",
        created_at=past,
        expires_at=past,
    )
    make_chaos()
    assert _state(ops_engine, fault)[0] == "reverted"
