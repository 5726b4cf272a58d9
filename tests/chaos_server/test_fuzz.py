"""Schemathesis against the chaos server's OpenAPI: generated requests find no 5xx.

The app runs in-process (ASGI) on the real lab and ops-db with every route, but its
catalogue holds the control fault only: generated requests reach validation, the blast
radius, the ledger and the kill switch without breaking the lab under the other tests.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # at collection: see below
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from breakfix.background import BackgroundLab
from chaos_server.config import Settings
from chaos_server.faults.control import Noop
from chaos_server.main import create_app
from lab.runtime.local import LocalRuntime
from tests.support.asgi import TestClient
from tests.support.chaos_lab import ALLOWLIST, ChaosFactory
from tests.support.lab_settings import lab_settings

pytestmark = pytest.mark.slow

# schemathesis loads its OpenAPI modules on first use, through pytest's assertion rewriting
# (ast.parse). Done inside a test while other threads of earlier tests still ran, CPython
# 3.11.7 failed it once ("SystemError: AST constructor recursion depth mismatch"): they are
# imported here, at collection, before any test has started a thread.


def _check(operation: Any, key: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def no_server_error(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"X-Chaos-Key": key}, checks=[schemathesis.checks.not_a_server_error]
        )

    no_server_error()


@pytest.fixture
def fuzz_app(
    lab: BackgroundLab, ops_db_url: str, runtime: LocalRuntime, chaos_key: tuple[Path, str]
) -> Iterator[FastAPI]:
    """A chaos app of its own (schemathesis runs it): no watchdog, the control fault only."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ops_db_url=ops_db_url,
        key_file=chaos_key[0],
        allowlist=ALLOWLIST,
    )
    app = create_app(settings, lab=lab_settings(lab), runtime=runtime, watchdog=False)
    app.state.parts.catalogue = {"noop": Noop()}
    yield app
    with TestClient(app, headers={"X-Chaos-Key": chaos_key[1]}) as client:
        client.post("/kill")  # nothing generated stays open or latched
        client.post("/kill/release")
        assert client.get("/faults", params={"state": "active"}).json() == []


def test_generated_requests_find_no_server_error(
    fuzz_app: FastAPI, chaos_key: tuple[Path, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        _check(operation, chaos_key[1])
        checked.append(operation.label)
    assert {"POST /break/{fault_id}", "GET /faults", "POST /kill", "DELETE /faults"} <= set(checked)


def test_without_the_key_every_route_but_healthz_is_401(make_chaos: ChaosFactory) -> None:
    client = make_chaos()
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/scenarios", "/proxies", "/kill"} <= paths
    for method, path in [
        ("GET", "/faults"),
        ("GET", "/catalogue"),
        ("POST", "/break/noop"),
        ("DELETE", "/faults?correlation_id=x"),
        ("GET", "/kill"),
        ("GET", "/scenarios"),
        ("POST", "/scenarios/x/run"),
        ("GET", "/proxies"),
    ]:
        response = client.request(method, path, headers={"X-Chaos-Key": "wrong"})
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthorized"
    assert client.get("/healthz", headers={"X-Chaos-Key": ""}).status_code == 200
