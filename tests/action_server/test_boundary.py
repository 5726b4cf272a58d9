"""The action server's HTTP boundary (issue 13, items 3, 4 and 8) over real HTTP.

The app is served by uvicorn on a real ops-db (the session's Postgres), so that chunked
bodies really stream and every audit row is read back through `GET /audit`. No action runs:
the runtime is a stand-in nothing here calls.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import text

from action_server.config import Settings
from action_server.keys import Scope, create_key
from action_server.main import create_app
from action_server.store import Store
from lab.config import LabSettings
from lab.runtime.base import Runtime
from tests.support.asgi import ThreadedServer
from tests.support.hostile_bodies import Chunks, nested_json, post_chunked
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster
from tests.support.ports import free_port


@dataclass
class Served:
    url: str
    admin: str
    store: Store

    def audit_row(self, marker: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/audit", headers={"X-API-Key": self.admin})
        assert response.status_code == 200, response.text
        rows = [row for row in response.json() if row["correlation_id"] == marker]
        assert len(rows) == 1, rows
        return cast(dict[str, Any], rows[0])


@pytest.fixture(scope="module")
def served(target_pg: RunningCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    url = fresh_ops_db(target_pg, "action_boundary")
    state_dir: Path = tmp_path_factory.mktemp("action-boundary")
    app = create_app(
        Settings(_env_file=None, ops_db_url=url),
        lab=LabSettings(state_dir=state_dir),
        runtime=cast(Runtime, object()),
        background=False,
    )
    store: Store = app.state.parts.store
    with store.session() as session:
        _, admin = create_key(session=session, name="boundary-admin", scope=Scope.admin)
    port = free_port()
    server = ThreadedServer(app, port).start()
    try:
        yield Served(url=f"http://127.0.0.1:{port}", admin=admin, store=store)
    finally:
        server.stop()


def _marker() -> dict[str, str]:
    return {"X-Correlation-ID": f"boundary-{secrets.token_hex(6)}"}


def test_an_anonymous_array_body_leaves_the_audit_readable(served: Served) -> None:
    marker = _marker()
    refused = httpx.post(
        f"{served.url}/action/restart-api",
        content=b"[1]",
        headers={"Content-Type": "application/json", **marker},
    )
    assert refused.status_code == 401
    row = served.audit_row(marker["X-Correlation-ID"])
    assert row["status_code"] == 401 and row["action"] == "restart-api"
    assert row["params"] is None  # an anonymous body is not kept


def test_a_refusal_to_a_known_key_keeps_a_bounded_redacted_excerpt(served: Served) -> None:
    marker = _marker()
    body = b'[{"token": "s3cret", "note": "' + b"x" * 20_000 + b'"}]'
    refused = httpx.post(
        f"{served.url}/action/restart-api",
        content=body,
        headers={"Content-Type": "application/json", "X-API-Key": served.admin, **marker},
    )
    assert refused.status_code == 422
    assert len(refused.content) < 2_000  # the error does not echo the body back
    row = served.audit_row(marker["X-Correlation-ID"])
    assert row["error_code"] == "validation_error"
    (excerpt,) = row["params"].values()
    assert isinstance(excerpt, str) and len(excerpt) <= 1_024
    assert excerpt.startswith('[{"token": "[redacted]"') and "s3cret" not in excerpt


@pytest.mark.parametrize("stored", ["[1]", '"text"', "5", "true", '[{"a": 1}]'])
def test_a_row_with_params_that_are_not_an_object_is_listed(served: Served, stored: str) -> None:
    marker = _marker()["X-Correlation-ID"]
    with served.store.session() as session:  # as code before this fix wrote them
        session.execute(
            text(
                "INSERT INTO audit_log (ts, method, path, action, params, dry_run, outcome,"
                " status_code, duration_ms, correlation_id) VALUES (now(), 'POST',"
                " '/action/restart-api', 'restart-api', CAST(:params AS jsonb), false,"
                " 'refused', 401, 1.0, :marker)"
            ),
            {"params": stored, "marker": marker},
        )
        session.commit()
    row = served.audit_row(marker)
    assert isinstance(row["params"], dict) and stored in str(row["params"].values())


def test_a_chunked_body_over_the_limit_is_refused_and_audited_without_it(served: Served) -> None:
    marker = _marker()
    response = post_chunked(f"{served.url}/action/restart-api", Chunks(), headers=marker)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["limit_bytes"] == 64 * 1024
    row = served.audit_row(marker["X-Correlation-ID"])
    assert row["status_code"] == 413 and row["error_code"] == "payload_too_large"
    assert row["params"] is None
    with served.store.session() as session:
        largest = session.execute(
            text("SELECT max(octet_length(params::text)) FROM audit_log")
        ).scalar_one()
    assert (largest or 0) < 4_096


def test_json_nested_too_deep_is_a_400_and_audited(served: Served) -> None:
    marker = _marker()
    response = httpx.post(
        f"{served.url}/action/restart-api",
        content=nested_json(),
        headers={"Content-Type": "application/json", "X-API-Key": served.admin, **marker},
    )
    assert response.status_code == 400 and response.json()["code"] == "json_too_deep"
    row = served.audit_row(marker["X-Correlation-ID"])
    assert row["status_code"] == 400 and row["error_code"] == "json_too_deep"


def test_parameters_are_strictly_typed(served: Served) -> None:
    response = httpx.post(
        f"{served.url}/action/scale-out",
        params={"dry_run": "true"},
        json={"replicas": True},
        headers={"X-API-Key": served.admin},
    )
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "replicas"]]
