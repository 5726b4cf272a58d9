"""Evidence features and perception, on real evidence recorded from a live lab.

The fixtures in tests/agent/fixtures/evidence/ are observability's own /alerts, /snapshot and
/evidence answers, recorded by scripts/record_evidence.py while each catalogue fault was
injected into a live lab (and for a steady lab: noop). These are fast unit tests on those
recordings. The ObservabilityClient tests serve the recorded documents over real HTTP on
127.0.0.1 (a replay of observability's answers, so that down and erroring cases can be made).
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from agent.features import Features, derived_features, extract_features, series_key
from agent.perceive import ObservabilityClient, perception_of
from lab.ports import free_port
from tests.support.evidence import load_perception, recorded


def test_series_keys_are_metric_then_label_values() -> None:
    assert series_key('probe_up{probe="health"}') == "probe_up.health"
    assert series_key("pg_up") == "pg_up"
    assert series_key('pg_connections{state="idle in transaction"}') == (
        "pg_connections.idle_in_transaction"
    )
    assert series_key('x{a="1",b="two"}') == "x.1.two"


def test_firing_alerts_become_features_and_resolved_ones_do_not() -> None:
    alerts = [
        {
            "alertname": "LogSignatureBurst",
            "service": "target",
            "status": "firing",
            "labels": {"signature": "auth_failed"},
        },
        {"alertname": "ServiceDown", "service": "target", "status": "resolved", "labels": {}},
    ]
    features = extract_features(alerts, {}, {})
    assert features["alert:LogSignatureBurst"] is True
    assert features["alert:LogSignatureBurst:target"] is True
    assert features["alert:LogSignatureBurst:target:auth_failed"] is True
    assert "alert:ServiceDown" not in features
    assert features["alerts:firing"] == 1.0


def test_a_steady_lab_has_nothing_firing_and_every_victim_healthy() -> None:
    features = load_perception("noop").features
    assert features["alerts:firing"] == 0.0
    for service in ("target", "target-db", "db-proxy", "upstream-primary", "upstream-fallback"):
        assert features[f"svc:{service}:up"] is True, service
    assert features["pg:up"] == 1.0
    assert features["pg:schema_at_head"] == 1.0
    assert features["pg:blocked_sessions_max"] == 0.0
    assert features["pg:foreign_connections"] == 0.0
    assert features["pg:rows_dropped"] == 0.0
    assert isinstance(features["cache:free_ratio"], float)
    assert features["cache:free_ratio"] > 0.5


@pytest.mark.parametrize(
    ("fault", "feature", "expected"),
    [
        ("api-crash", "svc:target:up", False),
        ("api-crash", "alert:ServiceDown:target", True),
        ("api-hang", "svc:target:stopped", True),
        ("api-hang", "svc:target:up", True),
        ("db-down", "svc:target-db:up", False),
        ("db-down", "pg:up", 0.0),
        ("schema-drift", "pg:schema_at_head", 0.0),
        ("schema-drift", "pg:schema_mismatch", 1.0),
        ("noop", "pg:schema_mismatch", 0.0),
        ("net-db-partition", "db:route_cut", 1.0),
        ("net-db-latency", "db:route_cut", 0.0),
        ("noop", "db:route_cut", 0.0),
        ("db-lock", "alert:DbBlockedSessions:target-db", True),
        # the primary answers by address; only its name is gone (warm cache: maybe no call)
        ("upstream-dns", "probe:upstream-primary:up", True),
        ("upstream-dns", "alert:ProbeFailing:target", True),
    ],
)
def test_a_fault_shows_in_its_features(fault: str, feature: str, expected: object) -> None:
    assert load_perception(fault).features.get(feature) == expected


@pytest.mark.parametrize(
    ("fault", "feature", "op", "bound"),
    [
        ("db-lock", "pg:blocked_sessions_max", "gt", 0.0),
        ("db-pool-exhaustion", "pg:connection_headroom_min", "le", 5.0),
        ("db-pool-exhaustion", "pg:foreign_connections", "gt", 10.0),
        ("db-data-loss", "pg:rows_dropped", "gt", 0.2),
        ("disk-fill", "cache:free_ratio", "lt", 0.02),
        ("db-auth-failure", "log:target-db:auth_failed", "gt", 0.0),
        ("api-cpu-hog", "metric:target:process_cpu_ratio:max", "gt", 0.6),
    ],
)
def test_a_fault_moves_its_numbers(fault: str, feature: str, op: str, bound: float) -> None:
    value = load_perception(fault).features.get(feature)
    assert isinstance(value, float), f"{feature} missing: {value!r}"
    assert value > bound if op == "gt" else value < bound if op == "lt" else value <= bound


def test_queries_on_a_missing_column_are_a_schema_mismatch_at_head_too() -> None:
    """A column renamed by hand: Alembic still at head, the queries fail."""
    at_head: Features = {"metric:target-db:pg_schema_at_head": 1.0}
    assert derived_features(at_head)["pg:schema_mismatch"] == 0.0
    burst = "alert:LogSignatureBurst:target-db:undefined_column"
    renamed: Features = {**at_head, "log:target-db:undefined_column": 3.0, burst: True}
    assert derived_features(renamed)["pg:schema_mismatch"] == 1.0
    missing: Features = {
        "log:target:undefined_table": 2.0,
        "alert:LogSignatureBurst:target:undefined_table": True,
    }
    assert derived_features(missing)["pg:schema_mismatch"] == 1.0
    assert "pg:schema_mismatch" not in derived_features({})


def test_schema_errors_of_an_episode_over_are_no_mismatch() -> None:
    """The column renamed back a few seconds ago: its lines are still in the window, but no
    burst of them fires any more and Alembic is at head. A new incident in that window (a
    stale env on the next restart) was taken for schema drift and migrations were run."""
    after: Features = {
        "metric:target-db:pg_schema_at_head": 1.0,
        "log:target:undefined_column": 11.0,
        "log:target-db:undefined_column": 11.0,
        "alert:ProbeFailing:target": True,
    }
    assert derived_features(after)["pg:schema_mismatch"] == 0.0
    behind: Features = {**after, "metric:target-db:pg_schema_at_head": 0.0}
    assert derived_features(behind)["pg:schema_mismatch"] == 1.0


def test_trends_come_from_the_recent_window_when_there_is_one() -> None:
    document = recorded("api-crash")
    whole = perception_of(document["alerts"], document["snapshot"], document["evidence"])
    recent = load_perception("api-crash")
    # The same alerts and latest values either way; the trends differ by window.
    assert whole.features["svc:target:up"] == recent.features["svc:target:up"]
    moved = [
        name
        for name in recent.features
        if name.endswith((":min", ":max")) and whole.features.get(name) != recent.features[name]
    ]
    assert moved, "the 120 s and 30 s windows gave the same trends"


def test_perception_carries_log_lines_and_trace_ids_from_the_evidence() -> None:
    evidence = {
        "services": {
            "target": {
                "log_lines": [{"ts": 2.0, "signature": "timeout", "line": "timed out"}],
                "traces": {"slow": [{"trace_id": "abc", "ts": 1.0, "route": "/orders"}]},
            }
        }
    }
    perception = perception_of([], {}, evidence)
    assert perception.log_lines == ["target: timed out"]
    assert perception.trace_ids == ["abc"]
    assert perception.features["trace:target:slow"] == 1.0
    assert perception.features["trace:target:slow:/orders"] == 1.0


class _Replay(BaseHTTPRequestHandler):
    """Observability's read API answering with one recorded fixture (or a 500)."""

    document: dict[str, Any] = {}
    broken: set[str] = set()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path in self.broken:
            self._send(500, {"detail": "boom", "code": "internal"})
            return
        if url.path == "/alerts":
            self._send(200, self.document["alerts"])
        elif url.path == "/snapshot":
            self._send(200, self.document["snapshot"])
        elif url.path == "/evidence":
            since = float(parse_qs(url.query).get("since", ["300"])[0])
            self._send(200, self.document["recent" if since <= 30 else "evidence"])
        else:
            self._send(404, {"detail": "not found"})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def replay() -> Iterator[type[_Replay]]:
    """A loopback HTTP server replaying the api-crash recording."""
    handler = type("Replay", (_Replay,), {"document": recorded("api-crash"), "broken": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_perceives_what_observability_answers(replay: type[_Replay]) -> None:
    client = ObservabilityClient(replay.url, timeout=5.0)  # type: ignore[attr-defined]
    try:
        perception = client.perceive(120.0)
        assert perception.errors == []
        assert perception.features == load_perception("api-crash").features
        assert {a["alertname"] for a in client.firing()} >= {"ServiceDown"}
        health = client.health(["target", "target-db", "nonexistent"])
        assert health == {"target": False, "target-db": True, "nonexistent": False}
    finally:
        client.close()


def test_an_erroring_observability_is_reported_not_raised(replay: type[_Replay]) -> None:
    replay.broken = {"/snapshot"}
    client = ObservabilityClient(replay.url, timeout=5.0)  # type: ignore[attr-defined]
    try:
        perception = client.perceive(120.0)
        assert len(perception.errors) == 1
        assert "GET /snapshot: HTTP 500" in perception.errors[0]
        assert perception.features["alert:ServiceDown:target"] is True  # alerts still read
        assert client.health(["target-db"]) == {"target-db": False}
    finally:
        client.close()


def test_a_down_observability_gives_an_empty_perception_with_the_reason() -> None:
    client = ObservabilityClient(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        perception = client.perceive(60.0)
        assert len(perception.errors) == 4  # /alerts, /snapshot, both /evidence windows
        assert all("ConnectError" in error for error in perception.errors)
        assert perception.alerts == [] and perception.features == {
            "alerts:firing": 0.0,
            "probe:bystanders_down": 0.0,
        }
        assert client.firing() == []
        assert client.health(["target"]) == {"target": False}
    finally:
        client.close()


def test_a_proxy_that_accepts_no_connection_cuts_the_db_route() -> None:
    """A firewall dropping the packets to db-proxy: nothing is lost (the app's queries time
    out), but the running proxy fails its TCP probe."""
    dropped: Features = {"probe:db-proxy:up": False, "svc:db-proxy:up": True}
    assert derived_features(dropped)["db:route_cut"] == 1.0
    assert derived_features({**dropped, "probe:db-proxy:up": True})["db:route_cut"] == 0.0
    assert derived_features({"log:target:connection_lost": 2.0})["db:route_cut"] == 1.0
    assert "db:route_cut" not in derived_features({})
