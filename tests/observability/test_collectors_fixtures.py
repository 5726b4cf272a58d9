"""Collectors against recorded data: /metrics pairs, Postgres rows, log files, trace lines."""

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from lab.postgres import Cluster
from observability.collectors.file_tail import FileTail
from observability.collectors.histogram import quantile
from observability.collectors.host import HostCollector
from observability.collectors.logs import LogCollector
from observability.collectors.postgres import PgSnapshot, PostgresCollector, snapshot_samples
from observability.collectors.redaction import redact_line
from observability.collectors.signatures import (
    CatalogueError,
    load_catalogue,
    matching,
    parse_catalogue,
)
from observability.collectors.target_metrics import derive, parse
from observability.collectors.traces import TraceCollector
from observability.model import Sample

FIXTURES = Path(__file__).parent / "fixtures"


def values(samples: list[Sample]) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], float]:
    return {(s.service, s.metric, s.labels): s.value for s in samples}


def metric(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.metric == name and dict(s.labels) == labels]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


# --- target /metrics -------------------------------------------------------------------


def test_recorded_scrape_pair_gives_rate_ratio_and_quantiles() -> None:
    """Between the recorded scrapes: 5 GET /products (200), 5 GET /products/999999 (404)."""
    first = parse((FIXTURES / "target_metrics_1.txt").read_text(), at=100.0)
    second = parse((FIXTURES / "target_metrics_2.txt").read_text(), at=102.0)
    samples = derive(first, second, now=1.0)
    assert metric(samples, "http_request_rate") == pytest.approx(10 / 2.0)
    assert metric(samples, "http_5xx_ratio") == 0.0
    p50 = metric(samples, "http_latency_p50_seconds")
    p99 = metric(samples, "http_latency_p99_seconds")
    assert 0 < p50 <= p99 <= 0.1
    assert metric(samples, "db_pool_size") == 5.0
    assert metric(samples, "db_pool_in_use") == 0.0


def test_first_scrape_gives_gauges_only() -> None:
    scrape = parse((FIXTURES / "target_metrics_1.txt").read_text(), at=100.0)
    names = {s.metric for s in derive(None, scrape, now=1.0)}
    assert names == {"db_pool_in_use", "db_pool_size", "db_pool_overflow"}


def test_counter_drop_means_restart_and_starts_over() -> None:
    later = parse((FIXTURES / "target_metrics_2.txt").read_text(), at=100.0)
    restarted = parse((FIXTURES / "target_metrics_1.txt").read_text(), at=102.0)
    names = {s.metric for s in derive(later, restarted, now=1.0)}
    assert "http_request_rate" not in names and "http_5xx_ratio" not in names
    # The restarted scrape becomes the baseline: the next pair is derived normally.
    again = parse((FIXTURES / "target_metrics_2.txt").read_text(), at=104.0)
    assert metric(derive(restarted, again, now=2.0), "http_request_rate") == pytest.approx(5.0)


def test_errors_and_slow_requests_from_bucket_deltas() -> None:
    first = parse((FIXTURES / "metrics_errors_1.txt").read_text(), at=0.0)
    second = parse((FIXTURES / "metrics_errors_2.txt").read_text(), at=10.0)
    samples = derive(first, second, now=1.0)
    assert metric(samples, "http_request_rate") == pytest.approx(10.0)  # 100 in 10 s
    assert metric(samples, "http_5xx_ratio") == pytest.approx(0.2)
    assert metric(samples, "http_latency_p50_seconds") == pytest.approx(0.03)
    assert metric(samples, "http_latency_p99_seconds") == pytest.approx(1.45)
    assert metric(samples, "upstream_error_ratio", route="primary") == pytest.approx(0.5)
    assert metric(samples, "upstream_error_ratio", route="fallback") == 0.0


def test_quantile_edges() -> None:
    assert quantile(0.5, {1.0: 0, math.inf: 0}) is None
    assert quantile(0.99, {1.0: 1, 2.0: 1, math.inf: 5}) == 2.0  # rank in +Inf: top bound
    with pytest.raises(ValueError):
        quantile(0.5, {1.0: 3})


# --- Postgres --------------------------------------------------------------------------


def test_recorded_pg_snapshot_samples() -> None:
    snapshot = PgSnapshot.from_dict(json.loads((FIXTURES / "pg_snapshot.json").read_text()))
    samples = snapshot_samples(snapshot, head="0003", now=5.0)
    assert metric(samples, "pg_up") == 1
    assert metric(samples, "pg_connections_by_app", app="breakfix-target") == 2
    assert metric(samples, "pg_connections", state="idle in transaction") == 0
    assert metric(samples, "pg_connection_headroom") == 100 - 3 - 2
    assert metric(samples, "pg_table_rows", table="products") == 20
    assert metric(samples, "pg_schema_at_head") == 1
    assert metric(samples, "pg_schema_revision_info", revision="0003") == 1


def test_pg_snapshot_with_lock_drift_and_gone_app() -> None:
    data = json.loads((FIXTURES / "pg_snapshot.json").read_text())
    data.update(
        blocked_sessions=2,
        waiting_locks=3,
        revision="0002",
        table_rows={**data["table_rows"], "orders": None},
    )
    samples = snapshot_samples(
        PgSnapshot.from_dict(data), head="0003", now=5.0, known_apps={"breakfix-chaos"}
    )
    assert metric(samples, "pg_blocked_sessions") == 2
    assert metric(samples, "pg_table_readable", table="orders") == 0
    assert not [s for s in samples if s.metric == "pg_table_rows" and s.label("table") == "orders"]
    assert metric(samples, "pg_schema_at_head") == 0
    assert metric(samples, "pg_connections_by_app", app="breakfix-chaos") == 0


def test_a_cluster_that_is_not_there_is_pg_up_0_not_a_failure(tmp_path: Path) -> None:
    cluster = Cluster(
        name="target-db", data_dir=tmp_path / "gone", port=1, bindir=tmp_path, user=None
    )
    collector = PostgresCollector(cluster=cluster, dbname="shop", head_revision="0003")
    result = collector.collect(1.0)
    assert [(s.metric, s.value) for s in result.samples] == [("pg_up", 0.0)]
    assert collector.last_error


# --- logs ------------------------------------------------------------------------------


def test_default_catalogue_matches_the_recorded_lines() -> None:
    catalogue = load_catalogue()
    seen: dict[str, set[str]] = {}
    for service in ("target-db", "target"):
        for line in (FIXTURES / "logs" / f"{service}.log").read_text().splitlines():
            for name in matching(catalogue, service, line):
                seen.setdefault(name, set()).add(service)
    for required in (
        "auth_failed",
        "too_many_clients",
        "name_resolution",
        "no_space",
        "undefined_column",
        "connection_refused",
        "timeout",
        "traceback",
    ):
        assert required in seen, required
    assert matching(catalogue, "target", '{"msg": "request", "status": 200}') == []


def test_config_and_cache_signatures_match_what_the_target_writes() -> None:
    """lab/serve.py's start-up refusal and target_server/cache.py's corrupt-entry line: the
    agent tells config-drift from a crash, and cache-corruption from an error storm, by them."""
    catalogue = load_catalogue()
    refusal = "configuration error: TARGET_DB_POOL_SIZE: Input should be greater than 0"
    corrupt = '{"level": "error", "logger": "target_server.cache", "msg": "cache entry corrupt"}'
    assert matching(catalogue, "target", refusal) == ["config_invalid"]
    assert matching(catalogue, "target", corrupt) == ["cache_corrupt"]
    assert matching(catalogue, "target-db", refusal) == []  # target only
    assert matching(catalogue, "target", "the configuration error: was fixed") == []
    # target_server/resolver.py when the hosts file has no line for an upstream
    resolver = '{"level": "warning", "msg": "name resolution failure", "host": "p.lab"}'
    assert matching(catalogue, "target", resolver) == ["name_resolution"]


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"signatures": [{"name": "x", "regex": "("}]},
        {"signatures": [{"name": "Bad Name", "regex": "a"}]},
        {"signatures": [{"name": "a", "regex": "a"}, {"name": "a", "regex": "b"}]},
        {"signatures": [{"name": "a", "regex": "a", "services": "target"}]},
        {"signatures": [{"name": "a", "regex": "a", "extra": 1}]},
    ],
)
def test_bad_catalogues_are_refused(doc: object) -> None:
    with pytest.raises(CatalogueError):
        parse_catalogue(doc)


def test_redaction_of_kept_lines() -> None:
    line = 'dsn=postgresql://app:s3cr3t@h/db password=hunter2 "token": "abc123" Bearer abcdefghij'
    clean = redact_line(line)
    for secret in ("s3cr3t", "hunter2", "abc123", "abcdefghij"):
        assert secret not in clean
    assert "password authentication failed" in redact_line("password authentication failed")


def test_log_collector_counts_redacts_and_follows_rotation(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "target.log").write_text("old line: Connection refused\n")
    collector = LogCollector(logs_dir=logs, catalogue=load_catalogue())
    first = collector.collect(1.0)
    assert metric(first.samples, "log_signature_total", signature="connection_refused") == 0
    assert first.logs == []  # history at start is not news

    shutil.copy(FIXTURES / "logs" / "target-db.log", logs / "target-db.log")  # appears later
    with open(logs / "target.log", "a") as handle:
        handle.write((FIXTURES / "logs" / "target.log").read_text())
    second = collector.collect(2.0)
    by = values(second.samples)
    assert by[("target-db", "log_signature_total", (("signature", "auth_failed"),))] == 1
    assert by[("target-db", "log_signature_total", (("signature", "too_many_clients"),))] == 2
    assert by[("target", "log_signature_total", (("signature", "connection_refused"),))] == 1
    assert by[("target", "log_signature_total", (("signature", "traceback"),))] == 2
    kept = [line.line for line in second.logs if line.signature == "connection_refused"]
    assert kept and "s3cr3t-pw" not in kept[0]

    # Rotation: the old file is renamed and a new one starts; truncation: the file shrinks.
    os.rename(logs / "target.log", logs / "target.log.1")
    (logs / "target.log").write_text("FATAL:  sorry, too many clients already\n")
    with open(logs / "target-db.log", "w") as handle:
        handle.write("ERROR:  canceling statement due to statement timeout\n")
    third = values(collector.collect(3.0).samples)
    collector.close()
    assert third[("target", "log_signature_total", (("signature", "too_many_clients"),))] == 1
    assert third[("target-db", "log_signature_total", (("signature", "timeout"),))] == 2


def test_file_tail_keeps_a_partial_line_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("")
    tail = FileTail(path, max_bytes=8)
    with open(path, "a") as handle:
        handle.write("first line\nsec")
    assert tail.read() == []  # 8 bytes: no newline yet
    assert tail.read() == ["first line"]
    with open(path, "a") as handle:
        handle.write("ond\n")
    assert tail.read() == ["second"]
    tail.close()


# --- traces and host -------------------------------------------------------------------


def test_trace_marks_from_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "target.jsonl"
    collector = TraceCollector(path=path)
    assert collector.collect(1.0).traces == []  # no file yet: nothing, not an error
    path.parent.mkdir()
    good = {
        "ts": 1763720000.1,
        "trace_id": "ab" * 16,
        "kind": "slow",
        "route": "/products",
        "status": 200,
        "duration_s": 1.23,
    }
    path.write_text(json.dumps(good) + "\n" + '{"trace_id": "nothex"}\n' + "not json\n")
    result = collector.collect(2.0)
    assert [(m.trace_id, m.kind, m.route, m.duration_s) for m in result.traces] == [
        ("ab" * 16, "slow", "/products", 1.23)
    ]
    assert metric(result.samples, "trace_marks_invalid_total") == 2
    collector.close()


def test_host_collector_sums_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "target"
    (cache / "sub").mkdir(parents=True)
    (cache / "a.json").write_bytes(b"x" * 100)
    (cache / "sub" / "b.json").write_bytes(b"y" * 23)
    samples = HostCollector(cache_dir=cache).collect(1.0).samples
    assert metric(samples, "cache_used_bytes") == 123
    assert 0 < metric(samples, "cache_free_bytes") <= metric(samples, "cache_fs_size_bytes")
    missing = HostCollector(cache_dir=tmp_path / "nope").collect(1.0).samples
    assert metric(missing, "cache_used_bytes") == 0
