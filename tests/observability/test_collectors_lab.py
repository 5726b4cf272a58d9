"""The collectors against a live lab: every service sampled, and real faults seen."""

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import psutil
import pytest

from breakfix.background import BackgroundLab
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from lab.services import APP_DB, clusters, endpoints
from observability.collectors.lab_collectors import close_collectors, lab_collectors, traces_file
from observability.collectors.runner import Runner
from observability.collectors.runtime_stats import WARMUP_S
from observability.collectors.synthetic import SyntheticTransaction
from observability.model import Collection, Collector, Sample

pytestmark = pytest.mark.slow

Build = Callable[[], dict[str, Collector]]


@pytest.fixture(scope="module")
def runtime(lab_paths: StatePaths) -> Iterator[LocalRuntime]:
    rt = LocalRuntime.from_state_dir(lab_paths)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def target_db(lab_settings: LabSettings, lab_paths: StatePaths) -> Cluster:
    return clusters(lab_settings, lab_paths)["target-db"]


@pytest.fixture
def build(
    lab_settings: LabSettings, lab_paths: StatePaths, runtime: LocalRuntime
) -> Iterator[Build]:
    """Fresh lab collectors by name (logs followed from now); all closed after the test."""
    made: list[Collector] = []

    def make() -> dict[str, Collector]:
        collectors = lab_collectors(settings=lab_settings, paths=lab_paths, runtime=runtime)
        made.extend(collectors)
        return {c.name: c for c in collectors}

    yield make
    close_collectors(made)


def value(result: Collection, service: str, metric: str, **labels: str) -> float:
    found = [
        s.value
        for s in result.samples
        if s.service == service and s.metric == metric and dict(s.labels) == labels
    ]
    assert len(found) == 1, f"{service} {metric}{labels}: {found}"
    return found[0]


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        time.sleep(0.1)


def order_counts(target_db: Cluster) -> dict[str, int]:
    conn = target_db.connect(APP_DB)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status, count(*) FROM orders GROUP BY status")
            return {str(s): int(n) for s, n in cur.fetchall()}
    finally:
        conn.close()


def synthetic_result(synthetic: Collector, now: float = 0.0) -> list[Sample]:
    """Collect until a finished transaction is reported."""
    for _ in range(200):
        samples = synthetic.collect(now).samples
        if any(s.metric == "synthetic_step_success" for s in samples):
            return samples
    raise AssertionError("no synthetic transaction finished")


def test_every_service_gets_runtime_and_probe_samples(
    build: Build, lab_settings: LabSettings, runtime: LocalRuntime
) -> None:
    services = [name for name in endpoints(lab_settings) if name != "observability"]
    # no CPU ratio for a process in its start-up (WARMUP_S): wait until all are past it
    started = [psutil.Process(runtime.status(name).pid or 0).create_time() for name in services]
    time.sleep(max(0.0, max(started) + WARMUP_S - time.time()))
    runner = Runner(list(build().values()), interval_s=1.0)
    runner.run_once()
    time.sleep(0.5)
    result = runner.run_once()
    for service in services:
        assert value(result, service, "service_up") == 1, service
        assert value(result, service, "process_rss_bytes") > 0, service
        assert value(result, service, "process_cpu_ratio") >= 0, service
        assert value(result, service, "probe_up", probe="health") == 1, service
    for status in runner.status():
        assert status.up and status.failures == 0, status
    assert value(result, "target", "http_request_rate") > 0  # probes and synthetic traffic
    assert value(result, "target", "db_pool_size") > 0
    assert value(result, "target", "cache_fs_size_bytes") > 0


def test_synthetic_transaction_succeeds_and_leaves_no_order(
    build: Build, target_db: Cluster
) -> None:
    before = order_counts(target_db)
    synthetic = build()["synthetic"]
    samples = synthetic_result(synthetic)
    by = {(s.metric, s.labels): s.value for s in samples}
    assert by[("synthetic_success", ())] == 1
    for step in ("read", "order", "cancel"):
        assert by[("synthetic_step_success", (("step", step),))] == 1
        assert by[("synthetic_step_latency_seconds", (("step", step),))] > 0
    after = order_counts(target_db)
    assert after.get("placed", 0) == before.get("placed", 0)
    assert after.get("cancelled", 0) == before.get("cancelled", 0) + 1


def test_postgres_numbers_are_sane(build: Build, lab_settings: LabSettings) -> None:
    result = build()["postgres"].collect(1.0)
    assert value(result, "target-db", "pg_up") == 1
    assert value(result, "target-db", "pg_connections_by_app", app="breakfix-target") >= 1
    assert (
        value(result, "target-db", "pg_max_connections") == lab_settings.target_db_max_connections
    )
    total = value(result, "target-db", "pg_connections_total")
    assert (
        0
        < value(result, "target-db", "pg_connection_headroom")
        < lab_settings.target_db_max_connections
    )
    assert total >= 2  # the target's pool and this collector
    assert value(result, "target-db", "pg_table_rows", table="products") > 0
    assert value(result, "target-db", "pg_schema_at_head") == 1
    assert value(result, "target-db", "pg_blocked_sessions") == 0


def test_a_held_lock_shows_blocked_sessions_and_an_unreadable_table(
    build: Build, target_db: Cluster
) -> None:
    postgres = build()["postgres"]
    holder = target_db.connect(APP_DB)
    holder.autocommit = False
    reader_conn = target_db.connect(APP_DB)
    reader = threading.Thread(
        target=lambda: reader_conn.cursor().execute("SELECT count(*) FROM orders"), daemon=True
    )
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        reader.start()

        def reader_waits() -> bool:
            result = postgres.collect(time.time())
            return value(result, "target-db", "pg_blocked_sessions") >= 1

        wait_for(reader_waits, "a blocked reader")
        result = postgres.collect(time.time())  # returns: the lock is not waited for
        assert value(result, "target-db", "pg_waiting_locks") >= 1
        assert value(result, "target-db", "pg_blocking_sessions") >= 1
        assert value(result, "target-db", "pg_table_readable", table="orders") == 0
        assert value(result, "target-db", "pg_table_readable", table="products") == 1
    finally:
        holder.rollback()
        holder.close()
        reader.join(30)
        reader_conn.close()
    result = postgres.collect(time.time())
    assert value(result, "target-db", "pg_table_readable", table="orders") == 1
    assert value(result, "target-db", "pg_blocked_sessions") == 0


def test_a_log_line_counts_once(build: Build, lab_paths: StatePaths) -> None:
    logs = build()["logs"]

    def count() -> float:
        result = logs.collect(time.time())
        return value(result, "target-db", "log_signature_total", signature="auth_failed")

    before = count()
    with open(lab_paths.log("target-db"), "a") as handle:
        handle.write(
            "2026-11-21 10:20:01.114 UTC [1] breakfix-target FATAL:  password authentication "
            'failed for user "breakfix_app"\n'
        )
    result = logs.collect(time.time())
    assert value(result, "target-db", "log_signature_total", signature="auth_failed") == before + 1
    assert any(
        line.service == "target-db" and line.signature == "auth_failed" for line in result.logs
    )
    assert count() == before + 1  # counted once, not again at the next pass


def test_a_trace_mark_is_read(build: Build, lab_paths: StatePaths) -> None:
    traces = build()["traces"]
    traces.collect(time.time())
    path = traces_file(lab_paths)
    path.parent.mkdir(exist_ok=True)
    mark = {
        "ts": time.time(),
        "trace_id": "0123456789abcdef" * 2,
        "kind": "failed",
        "route": "/orders",
        "status": 500,
        "duration_s": 0.2,
    }
    with open(path, "a") as handle:
        handle.write(json.dumps(mark) + "\n")
    marks = traces.collect(time.time()).traces
    assert [(m.trace_id, m.kind, m.status) for m in marks if m.trace_id == mark["trace_id"]] == [
        (mark["trace_id"], "failed", 500)
    ]


def test_a_frozen_target_is_down_and_the_others_still_finish(
    build: Build, runtime: LocalRuntime, lab: BackgroundLab, target_db: Cluster
) -> None:
    collectors = build()
    runner = Runner(list(collectors.values()), interval_s=1.0)
    runner.run_once()
    placed_before = order_counts(target_db).get("placed", 0)
    runtime.signal("target", "SIGSTOP")
    try:
        result = runner.run_once()
        assert value(result, "target", "probe_up", probe="health") == 0
        assert value(result, "target", "process_stopped") == 1
        assert value(result, "target-db", "probe_up", probe="health") == 1
        assert value(result, "target-db", "pg_up") == 1
        status = {s.name: s for s in runner.status()}
        for name in ("runtime", "probes", "postgres", "host", "logs", "traces"):
            assert status[name].up, status[name]
        assert not status["target_metrics"].up and status["target_metrics"].last_error
    finally:
        runtime.signal("target", "SIGCONT")
    url = f"http://127.0.0.1:{lab.port('TARGET')}/ready"
    wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, "target ready again")
    synthetic = collectors["synthetic"]
    assert isinstance(synthetic, SyntheticTransaction)
    samples = synthetic_result(synthetic)  # the transaction caught by the freeze ends...
    if not [s for s in samples if s.metric == "synthetic_success" and s.value == 1]:
        synthetic_result(synthetic)  # ...and the next one succeeds
    assert synthetic.owed_cancels == []
    assert order_counts(target_db).get("placed", 0) == placed_before
