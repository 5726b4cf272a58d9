"""Schemathesis against the action server's OpenAPI: generated requests find no 5xx.

The app runs in-process (ASGI) on the real lab and ops-db. The key has `read` scope, so
generated requests can dry-run but never change the lab.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # at collection: see below
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from action_server.config import Settings
from action_server.main import create_app
from breakfix.background import BackgroundLab
from lab.envfile import read_env
from lab.paths import StatePaths
from tests.support.lab_settings import lab_settings

# schemathesis loads its OpenAPI modules on first use, through pytest's assertion rewriting
# (ast.parse). Done inside a test while other threads of earlier tests still ran, CPython
# 3.11.7 failed it once ("SystemError: AST constructor recursion depth mismatch"): they are
# imported here, at collection, before any test has started a thread.


@pytest.fixture(scope="module")
def fuzz_key(lab: BackgroundLab) -> str:
    created = lab.cli("keys", "create", "--scope", "read", "--name", "fuzz")
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def fuzz_app(lab: BackgroundLab) -> Iterator[FastAPI]:
    ops_url = read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"]
    app_settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ops_db_url=ops_url,
        rate_read="100000/minute",
        rate_dry_run="100000/minute",
    )
    yield create_app(app_settings, lab=lab_settings(lab), background=False)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def admin_key(lab: BackgroundLab) -> str:
    created = lab.cli("keys", "create", "--scope", "admin", "--name", "fuzz-admin")
    return created.stdout.strip().splitlines()[-1]


def _check(operation: Any, key: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def no_server_error(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"X-API-Key": key}, checks=[schemathesis.checks.not_a_server_error]
        )

    no_server_error()


def test_generated_requests_find_no_server_error(
    fuzz_schema: schemathesis.BaseSchema, fuzz_key: str, admin_key: str
) -> None:
    checked = []
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        # GETs change nothing: an admin key reaches /audit's filters; the rest stays `read`.
        _check(operation, admin_key if operation.method.upper() == "GET" else fuzz_key)
        checked.append(operation.label)
    assert {"POST /action/{name}", "GET /actions", "GET /audit"} <= set(checked)


def test_an_unexpected_error_is_a_fixed_500_and_is_audited(
    fuzz_app: FastAPI, fuzz_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from action_server.catalogue import ActionSpec
    from action_server.models import AuditEntry
    from tests.support.asgi import TestClient

    catalogue = fuzz_app.state.parts.catalogue
    broken = catalogue["clear-cache"]

    def explode(ctx: object, params: object) -> None:
        raise RuntimeError("postgresql://u:hunter2@h/db exploded")

    monkeypatch.setitem(
        catalogue, "clear-cache", ActionSpec(**{**broken.__dict__, "plan": explode})
    )
    with TestClient(fuzz_app, raise_server_exceptions=False) as client:
        response = client.post(
            "/action/clear-cache",
            params={"dry_run": "true"},
            headers={"X-API-Key": fuzz_key, "X-Correlation-ID": "boom-1"},
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "code": "internal_error"}
    with fuzz_app.state.parts.store.session() as session:
        row = session.query(AuditEntry).filter_by(correlation_id="boom-1").one()
    assert row.status_code == 500 and row.error_code == "internal_error"


def test_escalate_without_a_receiver_and_file_actions_on_kubernetes_are_refused(
    fuzz_app: FastAPI, fuzz_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.asgi import TestClient

    ctx = fuzz_app.state.parts.ctx
    headers = {"X-API-Key": fuzz_key}
    with TestClient(fuzz_app) as client:
        assert not ctx.webhooks
        escalate = client.post(
            "/action/escalate",
            params={"dry_run": "true"},
            json={"summary": "page"},
            headers=headers,
        )
        assert escalate.status_code == 409 and "no receiver" in escalate.json()["detail"]
        # the Compose stack shares the cache volume with the action server; a cluster does not
        monkeypatch.setattr(ctx, "backend", "kubernetes")
        cache = client.post("/action/clear-cache", params={"dry_run": "true"}, headers=headers)
        assert cache.status_code == 409 and cache.json()["code"] == "not_supported"
        monkeypatch.setattr(ctx, "backend", "docker")
        for action in ("clear-cache", "restart-api"):
            plan = client.post(f"/action/{action}", params={"dry_run": "true"}, headers=headers)
            assert plan.status_code == 200, plan.text


def test_a_crash_mid_action_is_reconciled_and_never_replayed_as_success(
    fuzz_app: FastAPI, fuzz_key: str
) -> None:
    import uuid
    from datetime import UTC, datetime

    from action_server import idempotency, runs
    from action_server.models import ActionRun
    from tests.support.asgi import TestClient

    store = fuzz_app.state.parts.store
    key_id = fuzz_key.split("_")[1]
    now = datetime.now(UTC)
    crashed = ActionRun(
        id=uuid.uuid4(),
        action="restart-api",
        params={},
        dry_run=False,
        status=runs.RUNNING,
        summary="restart",
        changes=[],
        details={},
        correlation_id="crash-1",
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
        key_id=key_id,
    )
    with store.session() as session:
        session.add(crashed)
        session.commit()
    fingerprint = idempotency.request_hash(
        method="POST",
        path="/action/clear-cache",
        query={"dry_run": "True", "wait": "False"},
        body={},
    )
    assert (
        idempotency.claim(
            store=store, key_id=key_id, key="crash-key", fingerprint=fingerprint, wait_s=0
        )
        is None
    )  # the crashed claim
    assert runs.reconcile(store=store) >= 1
    assert runs.get(store=store, run_id=crashed.id).status == "interrupted"
    with TestClient(fuzz_app) as client:
        replay = client.post(
            "/action/clear-cache",
            params={"dry_run": "true"},
            headers={"X-API-Key": fuzz_key, "Idempotency-Key": "crash-key"},
        )
    assert replay.status_code == 409 and replay.json()["code"] == "interrupted"
