"""The Supabase sink through the real supabase-py client, against a stand-in for Supabase.

There is no Supabase or PostgREST here, so `PostgrestStandIn` is a small HTTP server on
loopback that speaks the part of PostgREST's API supabase-py uses to upsert rows
(POST /rest/v1/<table>?on_conflict=..., a JSON array body, apikey/Authorization headers,
201 with the rows): it stands in for the hosted service. ops-db is real Postgres.

Needs the `supabase` extra; without it the module is skipped.
"""

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip(
    "supabase", reason="the Supabase sink needs the extra: pip install -e '.[supabase]'"
)

from sqlalchemy import create_engine, text

from lab.ops_store import OpsStore
from lab.ports import free_port
from observability.collectors.runner import Runner
from observability.config import Settings
from observability.detector.detector import Detector
from observability.detector.notifier import Backoff
from observability.exposition import render
from observability.model import Collection, Sample
from observability.pipeline import Pipeline
from observability.sinks.ops_events import OpsEventsReader
from observability.sinks.supabase import SupabaseSink, build_supabase_sink
from observability.store.ring import RingStore
from tests.support.loopback import LoopbackServer, Quiet
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster
from tests.support.rule_sets import target_down

KEY = "sb-secret-" + secrets.token_hex(16)
FAST = Backoff(attempts=3, initial_s=0.01, factor=2.0, cap_s=0.05)
ALERT_COLUMNS = {
    "fingerprint", "starts_at", "ends_at", "alertname", "service", "severity", "status",
    "summary", "description", "labels", "value",
}  # fmt: skip
EVENT_COLUMNS = {
    "source", "source_id", "ts", "kind", "service", "origin", "fault_id", "correlation_id",
    "message", "data",
}  # fmt: skip


class PostgrestStandIn(LoopbackServer):
    """Records each POST /rest/v1/<table>; answers `status` (500 echoes the apikey back, as a
    careless proxy might, so redaction is tested) and holds answers until `release` is set."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.attempts = 0
        self.in_flight = 0
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()
        outer = self

        class Handler(Quiet):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.attempts += 1
                    outer.in_flight += 1
                outer.release.wait(60)
                url = urlsplit(self.path)
                with outer.lock:
                    outer.in_flight -= 1
                    if outer.status == 201:
                        outer.requests.append(
                            {
                                "path": url.path,
                                "query": parse_qs(url.query),
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "rows": json.loads(body),
                            }
                        )
                if outer.status == 201:
                    answer = body
                else:
                    error = {"message": f"boom for {self.headers['apikey']}", "code": "XX000"}
                    answer = json.dumps({**error, "hint": None, "details": None}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        super().__init__(Handler)

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                row for r in self.requests if r["path"] == f"/rest/v1/{table}" for row in r["rows"]
            ]

    def table(self, table: str) -> list[dict[str, Any]]:
        """The table as the upserts left it: one row per `on_conflict` key, merged."""
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        with self.lock:
            for r in self.requests:
                if r["path"] == f"/rest/v1/{table}":
                    key = r["query"]["on_conflict"][0].split(",")
                    for row in r["rows"]:
                        merged = out.setdefault(tuple(row[k] for k in key), {})
                        merged.update(row)
        return list(out.values())

    def close(self) -> None:
        self.release.set()
        super().close()


@pytest.fixture
def supa() -> Iterator[PostgrestStandIn]:
    server = PostgrestStandIn()
    yield server
    server.close()


def _sink(server: PostgrestStandIn, **kwargs: Any) -> SupabaseSink:
    values: dict[str, Any] = {
        "url": server.url,
        "key": KEY,
        "alerts_table": "breakfix_alerts",
        "events_table": "breakfix_events",
        "backoff": FAST,
        "poll_s": 0.1,
        **kwargs,
    }
    return SupabaseSink(**values)


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _counts(sink: SupabaseSink) -> dict[tuple[str, ...], float]:
    return {(s.metric, *(v for _, v in s.labels[1:])): s.value for s in sink.samples(0.0)}


class Scripted:
    """A collector reporting the `service_up` the test sets (the input the rule judges)."""

    name = "scripted"

    def __init__(self) -> None:
        self.up = 1.0

    def collect(self, now: float) -> Collection:
        """One `service_up` sample of "target" at `now`."""
        return Collection(samples=[Sample(now, "target", "service_up", self.up)])


RULES = target_down()


def _pipeline(sink: SupabaseSink | None) -> tuple[Pipeline, Scripted]:
    scripted, ring = Scripted(), RingStore()
    pipeline = Pipeline(
        runner=Runner([scripted], interval_s=1.0),
        ring=ring,
        detector=Detector(rules=RULES, store=ring),
        writer=None,
        interval_s=1.0,
        flush_every_s=60.0,
        sink=sink,
    )
    return pipeline, scripted


def test_alert_episodes_reach_the_alerts_table_with_the_key_in_the_headers(
    supa: PostgrestStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = _sink(supa)
    sink.start()
    pipeline, scripted = _pipeline(sink)
    t = time.time()
    try:
        sent = 0
        for i, up in enumerate([1, 0, 0, 1, 0]):  # fire, resolve, fire again
            scripted.up = float(up)
            pipeline.tick(t + i)
            if i in (1, 3, 4):  # a transition: wait for it, so each is a request of its own
                sent += 1
                _until(lambda n=sent: len(supa.rows("breakfix_alerts")) == n)
    finally:
        sink.close()
    rows = supa.rows("breakfix_alerts")
    assert [r["status"] for r in rows] == ["firing", "resolved", "firing"]
    assert all(set(r) == ALERT_COLUMNS for r in rows)
    first, resolved, again = rows
    assert first["alertname"] == "TargetDown" and first["service"] == "target"
    assert first["severity"] == "critical" and first["summary"] == "target down"
    assert first["labels"]["alertname"] == "TargetDown" and first["ends_at"] is None
    # The resolved row updates the first episode; the second episode is a row of its own.
    assert (resolved["fingerprint"], resolved["starts_at"]) == (
        first["fingerprint"],
        first["starts_at"],
    )
    assert resolved["ends_at"] is not None
    assert again["fingerprint"] == first["fingerprint"]
    assert again["starts_at"] > first["starts_at"]
    table = sorted(supa.table("breakfix_alerts"), key=lambda r: str(r["starts_at"]))
    assert [r["status"] for r in table] == ["resolved", "firing"]
    for request in supa.requests:
        assert request["headers"]["apikey"] == KEY
        assert request["headers"]["authorization"] == f"Bearer {KEY}"
        assert request["query"]["on_conflict"] == ["fingerprint,starts_at"]
    # The sink's counters are in the ring, hence on /metrics.
    exposition = render(pipeline.ring, max_age_s=None).decode()
    assert 'breakfix_sink_rows_total{kind="alerts",outcome="sent"' in exposition
    assert "breakfix_sink_deliveries_total{" in exposition
    assert _counts(sink)[("sink_rows_total", "alerts", "sent")] == 3
    assert KEY not in caplog.text and KEY not in repr(sink)


def _record(status: str, starts_at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "fingerprint": "f" * 16,
        "alertname": "TargetDown",
        "service": "target",
        "severity": "critical",
        "status": status,
        "startsAt": starts_at,
        "endsAt": None if status == "firing" else "2026-01-01T00:01:00Z",
    }


def test_a_batch_upserts_each_episode_once_in_its_latest_state(supa: PostgrestStandIn) -> None:
    sink = _sink(supa)
    # Queued before the thread starts: one batch, where an upsert may not touch a row twice.
    sink.send_alerts([_record("firing"), _record("resolved"), _record("firing", "2026-01-02")])
    sink.start()
    try:
        _until(lambda: len(supa.requests) == 1)
    finally:
        sink.close()
    rows = supa.requests[0]["rows"]
    assert [(r["starts_at"], r["status"]) for r in rows] == [
        ("2026-01-01T00:00:00Z", "resolved"),
        ("2026-01-02", "firing"),
    ]


def test_a_failing_supabase_is_retried_then_counted_failed_and_the_key_stays_out_of_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    failing = PostgrestStandIn(status=500)
    sink = _sink(failing)
    sink.start()
    record = {**_record("firing"), "value": float("nan")}  # no JSON for NaN: sent as null
    try:
        sink.send_alerts([record])
        _until(lambda: _counts(sink)[("sink_rows_total", "alerts", "failed")] == 1)
    finally:
        sink.close()
        failing.close()
    counts = _counts(sink)
    assert failing.attempts == FAST.attempts
    assert counts[("sink_deliveries_total", "retry")] == FAST.attempts - 1
    assert counts[("sink_deliveries_total", "failure")] == 1
    assert counts[("sink_deliveries_total", "success")] == 0
    assert "upsert of 1 rows into breakfix_alerts failed (attempt 3/3)" in caplog.text
    assert "boom for ***" in caplog.text  # the server echoed the key; the log did not
    assert KEY not in caplog.text


def test_a_hanging_supabase_never_blocks_the_tick_and_a_full_queue_drops(
    supa: PostgrestStandIn,
) -> None:
    supa.release.clear()  # holds every request until the end of the test
    sink = _sink(supa, max_queue=2, timeout_s=120.0)
    sink.start()
    pipeline, scripted = _pipeline(sink)
    t = time.time()
    try:
        scripted.up = 0.0
        pipeline.tick(t)
        _until(lambda: supa.in_flight == 1)
        for i in range(1, 6):  # resolve, fire, resolve...: transitions pile up behind it
            scripted.up = float(i % 2)
            pipeline.tick(t + i)
        # Every tick returned while the server still holds the first request open.
        assert supa.in_flight == 1 and supa.requests == []
        counts = _counts(sink)
        assert counts[("sink_rows_total", "alerts", "dropped")] == 3  # 5 transitions, 2 queued
        assert counts[("sink_queue_rows",)] == 2
        latest = {s.metric: s for s in pipeline.ring.latest() if s.metric == "service_up"}
        assert latest["service_up"].ts == t + 5  # collection went on
    finally:
        supa.release.set()
        sink.close()
    assert [r["status"] for r in supa.rows("breakfix_alerts")] == ["firing", "resolved", "firing"]


def test_not_configured_means_no_sink_and_nothing_sent(
    supa: PostgrestStandIn, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, ops_db_url="postgresql://x@127.0.0.1:1/x")  # type: ignore[call-arg]
    assert build_supabase_sink(settings, ops_store=None) is None
    pipeline, scripted = _pipeline(None)
    scripted.up = 0.0
    for i in range(3):
        pipeline.tick(time.time() + i)
    assert [r["status"] for r in pipeline.detector.records()] == ["firing"]
    assert supa.attempts == 0
    assert not [s for s in pipeline.ring.latest() if s.metric.startswith("sink_")]
    with pytest.raises(ValueError, match="or neither"):
        Settings(_env_file=None, ops_db_url="postgresql://x@h/x", supabase_url=supa.url)  # type: ignore[call-arg]
    key_file = tmp_path / "supabase.key"
    key_file.write_text(KEY + "\n")
    configured = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ops_db_url="postgresql://x@127.0.0.1:1/x",
        supabase_url=supa.url,
        supabase_key_file=key_file,
    )
    assert KEY not in repr(configured) and KEY not in configured.model_dump_json()
    sink = build_supabase_sink(configured, ops_store=None)
    assert isinstance(sink, SupabaseSink)
    sink.close()


@pytest.fixture(scope="module")
def ops_url(target_pg: RunningCluster) -> str:
    return fresh_ops_db(target_pg, "obs_sink")


def test_new_chaos_and_lab_events_are_mirrored_once_each(
    supa: PostgrestStandIn, ops_url: str
) -> None:
    engine = create_engine(ops_url)
    old = datetime.now(UTC) - timedelta(hours=2)
    chaos = (
        "INSERT INTO chaos_events (ts, kind, fault_id, target, correlation_id, message, data)"
        " VALUES (COALESCE(:ts, now()), 'injected', 'db-lock', 'target-db', :cid, :msg,"
        " CAST(:data AS jsonb))"
    )
    lab = (
        "INSERT INTO events (source, service, kind, message, data)"
        " VALUES ('action', 'target', 'restart', :msg, '{}')"
    )
    with engine.begin() as conn:  # before the sink's start: mirrored only if recent
        conn.execute(text(chaos), {"ts": old, "cid": "c0", "msg": "too old", "data": "{}"})
        conn.execute(text(chaos), {"ts": None, "cid": "c1", "msg": "lock", "data": '{"n": 1}'})
    store = OpsStore(ops_url, application_name="test-sink", unavailable=RuntimeError)
    reader = OpsEventsReader(store, since=time.time() - 3600)
    sink = _sink(supa, read_events=reader.read)
    sink.start()
    try:
        _until(lambda: len(supa.rows("breakfix_events")) == 1)
        with engine.begin() as conn:
            conn.execute(text(lab), {"msg": "restarted the API"})
            conn.execute(text(chaos), {"ts": None, "cid": "c2", "msg": "more", "data": "{}"})
        _until(lambda: len(supa.rows("breakfix_events")) == 3)
        time.sleep(0.5)  # a few more polls: nothing is sent twice
    finally:
        sink.close()
        store.dispose()
        engine.dispose()
    rows = supa.rows("breakfix_events")
    assert len(rows) == 3 and all(set(r) == EVENT_COLUMNS for r in rows)
    first = rows[0]
    assert (first["source"], first["kind"], first["service"]) == (
        "chaos_events",
        "injected",
        "target-db",
    )
    assert (first["fault_id"], first["correlation_id"], first["data"]) == (
        "db-lock",
        "c1",
        {"n": 1},
    )
    assert first["origin"] == "chaos"
    by_message = {r["message"]: r for r in rows}
    assert set(by_message) == {"lock", "restarted the API", "more"}
    restart = by_message["restarted the API"]
    assert (restart["source"], restart["origin"], restart["service"]) == (
        "events",
        "action",
        "target",
    )
    assert restart["fault_id"] is None
    assert len({(r["source"], r["source_id"]) for r in rows}) == 3
    assert all(r["query"]["on_conflict"] == ["source,source_id"] for r in supa.requests)
    assert _counts(sink)[("sink_rows_total", "events", "sent")] == 3


def test_an_unreachable_ops_db_is_counted_and_alerts_still_flow(supa: PostgrestStandIn) -> None:
    dead = f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/none"
    store = OpsStore(dead, application_name="test-sink", unavailable=RuntimeError)
    reader = OpsEventsReader(store, since=time.time())
    sink = _sink(supa, read_events=reader.read)
    sink.start()
    try:
        _until(lambda: _counts(sink)[("sink_read_failures_total",)] >= 2)
        sink.send_alerts([_record("firing")])
        _until(lambda: len(supa.rows("breakfix_alerts")) == 1)
    finally:
        sink.close()
        store.dispose()
