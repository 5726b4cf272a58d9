"""The chaos server's HTTP boundary (issue 13, items 4 and 8), without a lab.

Only `noop` is asked for, and the runtime is a stand-in: nothing here touches a service.
The app runs on a fresh ops-db of the session's Postgres.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI

from chaos_server.config import Settings
from chaos_server.main import create_app
from lab.config import LabSettings
from lab.runtime.base import Runtime
from tests.support.asgi import TestClient
from tests.support.hostile_bodies import Chunks, nested_json, post_chunked_served
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster

KEY = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def chaos_app(target_pg: RunningCluster, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    url = fresh_ops_db(target_pg, "chaos_boundary")
    state_dir: Path = tmp_path_factory.mktemp("chaos-boundary")
    key_file = state_dir / "chaos.key"
    key_file.write_text(KEY)
    settings = Settings(_env_file=None, ops_db_url=url, key_file=key_file)
    return create_app(
        settings,
        lab=LabSettings(state_dir=state_dir),
        runtime=cast(Runtime, object()),
        watchdog=False,
    )


@pytest.fixture
def chaos(chaos_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(chaos_app, headers={"X-Chaos-Key": KEY}) as client:
        yield client


def test_a_chunked_body_over_the_limit_is_refused_before_the_key(chaos_app: FastAPI) -> None:
    response = post_chunked_served(chaos_app, "/break/noop", Chunks())
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_json_nested_too_deep_is_a_400(chaos: TestClient) -> None:
    response = chaos.post(
        "/break/noop", content=nested_json(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "json_too_deep"


@pytest.mark.parametrize(
    "body",
    [
        {"ttl_s": True},
        {"ttl_s": "30"},
        {"target": 1},
        {"params": {"intensity": True}},
        {"params": {"intensity": "0.5"}},
    ],
)
def test_break_requests_are_strictly_typed(chaos: TestClient, body: dict[str, Any]) -> None:
    response = chaos.post("/break/noop", json=body)
    assert response.status_code == 422, response.text
    assert chaos.get("/faults").json() == []
