"""Traces: slow and failed requests leave marks with their trace ids, logs carry the trace id,
and spans reach a real OTLP/HTTP receiver when an endpoint is configured."""

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from target_server.fault_hooks.auth import HOOKS_HEADER
from target_server.tracing import TraceMarksFile, otlp_traces_url
from tests.support.asgi import TestClient
from tests.support.ports import free_port
from tests.support.target_server import AppFactory, SettingsFactory


@pytest.fixture(autouse=True)
def _sdk_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent's CrewAI code turns the OpenTelemetry SDK off process-wide
    (OTEL_SDK_DISABLED, agent.crew.offline); in a test process that imported it first, the
    target's own tracer provider would record nothing."""
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)


def traceparent() -> tuple[str, dict[str, str]]:
    """A fresh sampled W3C trace context: the server span joins this trace id."""
    trace_id = secrets.token_hex(16)
    return trace_id, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


def read_marks(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    marks = [json.loads(line) for line in path.read_text().splitlines()]
    return {mark["trace_id"]: mark for mark in marks}


def test_slow_and_failed_requests_are_marked_a_normal_one_is_not(
    make_app: AppFactory,
    token: tuple[Path, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    marks = tmp_path / "traces" / "target.jsonl"
    app = make_app(fault_hooks_token_file=token[0], trace_marks_file=marks, slow_trace_s=0.3)
    hooks = {HOOKS_HEADER: token[1]}
    with TestClient(app) as client:
        normal, headers = traceparent()
        assert client.get("/products", headers=headers).status_code == 200

        body = {"fault_key": "t-latency", "delay_ms": 600, "jitter_ms": 0}
        assert client.post("/_faults/latency", json=body, headers=hooks).status_code == 201
        slow, headers = traceparent()
        assert client.get("/products", headers=headers).status_code == 200
        assert client.delete("/_faults/latency/t-latency", headers=hooks).status_code == 200

        body = {"fault_key": "t-storm", "ratio": 1.0}
        assert client.post("/_faults/error-storm", json=body, headers=hooks).status_code == 201
        failed, headers = traceparent()
        assert client.get("/products", headers=headers).status_code == 500
        assert client.delete("/_faults/error-storm/t-storm", headers=hooks).status_code == 200

    found = read_marks(marks)
    # The hook calls themselves are chaos traffic: excluded, so only the two requests remain.
    assert set(found) == {slow, failed}
    assert found[slow]["kind"] == "slow"
    assert found[slow]["route"] == "/products"
    assert found[slow]["status"] == 200
    assert found[slow]["duration_s"] >= 0.6
    assert found[failed]["kind"] == "failed"
    assert found[failed]["status"] == 500
    assert set(found[failed]) == {"ts", "trace_id", "kind", "route", "status", "duration_s"}

    # The access log line of each request carries its trace id.
    access = {
        getattr(r, "trace_id", None): r for r in caplog.records if r.getMessage() == "request"
    }
    assert access[failed].__dict__["status"] == 500
    assert access[normal].__dict__["status"] == 200


def test_no_marks_file_no_marks_and_health_routes_are_not_traced(
    make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    marks = tmp_path / "target.jsonl"
    with TestClient(make_app(trace_marks_file=marks, slow_trace_s=0.0001)) as client:
        _, headers = traceparent()
        client.get("/healthz", headers=headers)
        client.get("/metrics", headers=headers)
        paths = {r.__dict__.get("path"): r for r in caplog.records if r.getMessage() == "request"}
        assert not hasattr(paths["/healthz"], "trace_id")
        normal, headers = traceparent()
        client.get("/products", headers=headers)
    # Every traced request is "slow" at this threshold; the probes were not traced at all.
    assert set(read_marks(marks)) == {normal}


def test_the_marks_file_is_rotated_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "target.jsonl"
    marks = TraceMarksFile(path, max_bytes=2048)
    for n in range(200):
        marks.append({"n": n, "trace_id": "ab" * 16})
    assert path.stat().st_size <= 2048
    old = path.with_name("target.jsonl.1")
    assert old.exists() and old.stat().st_size <= 2048
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["n"] == 199


class Receiver:
    """A real OTLP/HTTP traces endpoint on loopback that keeps the decoded spans."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.paths.append(self.path)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_spans_reach_an_otlp_endpoint_with_their_sql_children(
    make_app: AppFactory, receiver: Receiver
) -> None:
    trace_id, headers = traceparent()
    with TestClient(make_app(otlp_endpoint=receiver.url)) as client:
        assert client.get("/products", headers=headers).status_code == 200
    # Leaving the client ran the app's shutdown, which flushes the batch to the receiver.
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    ours = [s for s in receiver.spans if s.trace_id.hex() == trace_id]
    server = [s for s in ours if s.kind == Span.SPAN_KIND_SERVER]
    assert len(server) == 1
    assert server[0].name == "GET /products"
    sql = [s for s in ours if any(a.key == "db.system" for a in s.attributes)]
    assert sql, [s.name for s in ours]
    assert all(s.kind == Span.SPAN_KIND_CLIENT for s in sql)


def test_the_otlp_endpoint_comes_from_either_variable(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert make_settings().otlp_endpoint is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert make_settings().otlp_endpoint == "http://127.0.0.1:4318"
    monkeypatch.setenv("TARGET_OTLP_ENDPOINT", "http://127.0.0.1:4319/")
    assert make_settings().otlp_endpoint == "http://127.0.0.1:4319/"
    assert otlp_traces_url("http://127.0.0.1:4319/") == "http://127.0.0.1:4319/v1/traces"
    assert otlp_traces_url("http://h:1/v1/traces") == "http://h:1/v1/traces"
