"""The recent window, the ops-db writer and the query API, on real Postgres.

Samples here are written by the test (the collectors are tested against the live lab
elsewhere): what is checked is what the store and the API do with them.
"""

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from observability.api.errors import install_handlers
from observability.api.routes import router
from observability.config import Settings
from observability.model import Collection, LogLine, Sample, TraceMark
from observability.parts import ObservabilityParts
from observability.store.ops_writer import OpsWriter
from observability.store.ring import RingStore
from tests.support.asgi import TestClient
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster


@pytest.fixture(scope="module")
def ops_url(target_pg: RunningCluster) -> str:
    return fresh_ops_db(target_pg, "obs_store")


def _settings(ops_url: str, **values: object) -> Settings:
    return Settings(_env_file=None, ops_db_url=ops_url, **values)  # type: ignore[call-arg]


def _fill(ring: RingStore, now: float) -> None:
    samples = []
    for i in range(120):  # two minutes at 1 Hz
        ts = now - 120 + i
        samples.append(Sample(ts, "target", "http_5xx_ratio", 0.5 if i >= 100 else 0.0))
        samples.append(Sample(ts, "target", "process_rss_bytes", 1e8 + i * 1e6))
        samples.append(Sample(ts, "target-db", "pg_connections", 5.0, (("state", "idle"),)))
    ring.add(
        Collection(
            samples=samples,
            logs=[
                LogLine(now - 5, "target", "connection_refused", "psycopg2 connection refused"),
                LogLine(now - 4, "target", "traceback", "Traceback (most recent call last):"),
            ],
            traces=[
                TraceMark(now - 3, "target", "ab" * 16, "failed", "/orders", 500, 0.02),
                TraceMark(now - 2, "target", "cd" * 16, "slow", "/products", 200, 2.5),
            ],
        )
    )


@pytest.fixture
def api(ops_url: str) -> Iterator[tuple[TestClient, ObservabilityParts]]:
    ring = RingStore(window_s=600)
    _fill(ring, time.time())
    writer = OpsWriter(ops_url, ring, downsample_s=60, retention_h=1)
    alerts = [{"alertname": "TargetErrors", "service": "target", "status": "firing"}]
    parts = ObservabilityParts(
        settings=_settings(ops_url), ring=ring, writer=writer, alerts=lambda: alerts
    )
    app = FastAPI()
    app.state.parts = parts
    install_handlers(app)
    app.include_router(router)
    with TestClient(app) as client:
        yield client, parts
    writer.dispose()


def test_ring_keeps_a_bounded_window() -> None:
    ring = RingStore(window_s=10, max_points=5)
    ring.add(Collection(samples=[Sample(float(t), "s", "m", float(t)) for t in range(20)]))
    assert [s.value for s in ring.series("m")] == [15.0, 16.0, 17.0, 18.0, 19.0]
    ring.prune(now=27.5)
    assert [s.value for s in ring.series("m")] == [18.0, 19.0]
    ring.prune(now=100)
    assert ring.services() == [] and ring.latest() == []


def test_writer_downsamples_completed_buckets_once(ops_url: str) -> None:
    ring = RingStore(window_s=600)
    base = (time.time() // 60) * 60 - 180  # three whole minutes ago
    ring.add(
        Collection(
            samples=[Sample(base + i, "svc-w", "probe_up", float(i % 2)) for i in range(180)],
            logs=[LogLine(base + 5, "svc-w", "traceback", "Traceback ...")],
        )
    )
    writer = OpsWriter(ops_url, ring, downsample_s=60, retention_h=1)
    try:
        assert writer.flush(now=base + 180) == 3
        assert writer.flush(now=base + 180) == 0  # nothing written twice
        engine = create_engine(ops_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT count, avg, min, max FROM obs_samples"
                    " WHERE service = 'svc-w' ORDER BY bucket"
                )
            ).all()
            lines = conn.execute(
                text("SELECT count(*) FROM obs_log_excerpts WHERE service = 'svc-w'")
            ).scalar_one()
        engine.dispose()
        assert [tuple(r) for r in rows] == [(60, 0.5, 0.0, 1.0)] * 3
        assert lines == 1
        history = writer.history("probe_up", service="svc-w", since=base, until=base + 180)
        assert [round(p["value"], 2) for p in history] == [0.5, 0.5, 0.5]
    finally:
        writer.dispose()


def test_writer_records_an_alert_episode_and_updates_it(ops_url: str) -> None:
    ring = RingStore()
    writer = OpsWriter(ops_url, ring, downsample_s=60, retention_h=1)
    alert = {
        "fingerprint": "0123456789abcdef",
        "startsAt": "2026-11-21T10:00:00Z",
        "endsAt": None,
        "alertname": "TargetDown",
        "service": "target",
        "severity": "critical",
        "status": "firing",
        "summary": "target down",
        "labels": {"alertname": "TargetDown"},
    }
    try:
        writer.record_alert(alert)
        writer.record_alert({**alert, "status": "resolved", "endsAt": "2026-11-21T10:02:00Z"})
        engine = create_engine(ops_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, ends_at IS NOT NULL FROM obs_alerts WHERE fingerprint = :f"),
                {"f": "0123456789abcdef"},
            ).all()
        engine.dispose()
        assert [tuple(r) for r in rows] == [("resolved", True)]
    finally:
        writer.dispose()


def test_snapshot_has_the_latest_value_of_every_series(
    api: tuple[TestClient, ObservabilityParts],
) -> None:
    client, _ = api
    body = client.get("/snapshot").json()
    assert body["services"]["target"]["metrics"]["http_5xx_ratio"] == 0.5
    assert body["services"]["target-db"]["metrics"]['pg_connections{state="idle"}'] == 5.0
    only = client.get("/snapshot", params={"service": "target-db"}).json()
    assert list(only["services"]) == ["target-db"]


def test_series_filters_by_metric_service_and_since(
    api: tuple[TestClient, ObservabilityParts],
) -> None:
    client, _ = api
    body = client.get(
        "/series", params={"metric": "http_5xx_ratio", "service": "target", "since": 30}
    ).json()
    assert 28 <= len(body["points"]) <= 31 and body["source"] == "memory"
    assert all(p["value"] == 0.5 for p in body["points"][-15:])


def test_logs_match_pattern_and_refuse_a_bad_one(
    api: tuple[TestClient, ObservabilityParts],
) -> None:
    client, _ = api
    lines = client.get("/logs", params={"service": "target", "pattern": "refused"}).json()
    assert [x["signature"] for x in lines["lines"]] == ["connection_refused"]
    bad = client.get("/logs", params={"pattern": "("})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_pattern"


def test_evidence_correlates_trends_logs_traces_and_alerts(
    api: tuple[TestClient, ObservabilityParts],
) -> None:
    client, _ = api
    body = client.get("/evidence", params={"service": "target", "since": 60}).json()
    target = body["services"]["target"]
    assert target["changed"]["http_5xx_ratio"]["last"] == 0.5
    assert target["changed"]["process_rss_bytes"]["per_s"] == pytest.approx(1e6, rel=0.01)
    assert target["log_signatures"] == {"connection_refused": 1, "traceback": 1}
    assert [t["trace_id"] for t in target["traces"]["failed"]] == ["ab" * 16]
    assert [t["trace_id"] for t in target["traces"]["slow"]] == ["cd" * 16]
    assert body["alerts"][0]["alertname"] == "TargetErrors"


def test_bad_queries_get_stable_codes(api: tuple[TestClient, ObservabilityParts]) -> None:
    client, _ = api
    unknown = client.get("/snapshot", params={"service": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_service"
    assert client.get("/series").json()["code"] == "validation_error"
    assert client.get("/series", params={"metric": "Bad Name!"}).status_code == 422
    assert client.get("/evidence", params={"since": -1}).status_code == 422
