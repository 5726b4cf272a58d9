"""Observability as a whole on a live lab: collectors, detector, store, API and a receiver.

The pipeline is ticked by the test (one tick a second, as in production) so the assertions
follow the ticks; the receiver is a real HTTP server on loopback.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from breakfix.background import BackgroundLab
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from observability.config import Settings
from observability.main import create_app
from observability.pipeline import Pipeline
from tests.support.asgi import TestClient
from tests.support.webhook_receiver import Receiving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiving]:
    r = Receiving()
    yield r
    r.close()


@pytest.fixture(scope="module")
def ops_url(lab: BackgroundLab) -> str:
    return read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"]


@pytest.fixture(scope="module")
def obs(
    lab: BackgroundLab, lab_settings: LabSettings, ops_url: str, receiver: Receiving
) -> Iterator[tuple[TestClient, Pipeline, LocalRuntime]]:
    runtime = LocalRuntime.from_state_dir(StatePaths.at(lab.state_dir))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ops_db_url=ops_url,
        receivers=[receiver.url],
        downsample_s=5,
    )
    app: FastAPI = create_app(settings, lab=lab_settings, runtime=runtime, background=False)
    with TestClient(app) as client:
        yield client, app.state.pipeline, runtime
    runtime.close()


def _ticks(pipeline: Pipeline, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        pipeline.tick(time.time())
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def _firing(client: TestClient) -> set[tuple[str, str]]:
    alerts: list[dict[str, Any]] = client.get("/alerts").json()
    return {(a["alertname"], a["service"]) for a in alerts if a["status"] == "firing"}


def test_a_healthy_lab_is_sampled_everywhere_and_nothing_fires(
    obs: tuple[TestClient, Pipeline, LocalRuntime],
) -> None:
    client, pipeline, _ = obs
    _ticks(pipeline, 12)
    snapshot = client.get("/snapshot").json()
    services = snapshot["services"]
    for name in ("target", "target-db", "ops-db", "db-proxy", "action", "chaos"):
        assert services[name]["metrics"]["service_up"] == 1.0, name
    assert services["target"]["metrics"]["synthetic_success"] == 1.0
    assert all(c["up"] for c in snapshot["collectors"]), snapshot["collectors"]
    assert _firing(client) == set()
    exposition = client.get("/metrics").text
    assert 'breakfix_service_up{service="target"} 1' in exposition


def test_a_frozen_target_fires_delivers_and_resolves(
    obs: tuple[TestClient, Pipeline, LocalRuntime], receiver: Receiving, ops_url: str
) -> None:
    client, pipeline, runtime = obs
    before = len(receiver.bodies)
    runtime.signal("target", "SIGSTOP")
    try:
        _ticks(pipeline, 8)
        firing = _firing(client)
        assert any(service == "target" for _, service in firing), firing
        evidence = client.get("/evidence", params={"service": "target", "since": 30}).json()
        changed = evidence["services"]["target"]["changed"]
        assert changed['probe_up{probe="health"}']["last"] == 0.0
        assert evidence["alerts"] and evidence["alerts"][0]["service"] == "target"
    finally:
        runtime.signal("target", "SIGCONT")
    deadline = time.monotonic() + 60
    while _firing(client) and time.monotonic() < deadline:
        _ticks(pipeline, 2)
    assert _firing(client) == set()
    pipeline.detector.notifier.flush()  # type: ignore[union-attr]
    payloads = receiver.bodies[before:]
    statuses = {(p["status"], p["alerts"][0]["labels"]["service"]) for p in payloads}
    assert ("firing", "target") in statuses and ("resolved", "target") in statuses
    assert all(p["version"] == "4" for p in payloads)
    engine = create_engine(ops_url)
    with engine.connect() as conn:
        stored = (
            conn.execute(
                text(
                    "SELECT status FROM obs_alerts WHERE service = 'target' ORDER BY starts_at DESC"
                )
            )
            .scalars()
            .first()
        )
    engine.dispose()
    assert stored == "resolved"
