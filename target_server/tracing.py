"""OpenTelemetry traces: server and SQL spans, marks of slow and failed requests, OTLP export.

Each app gets its own `TracerProvider` (nothing global is patched, so several apps can live
in one process, as in the tests). In the lab's embedded default no span leaves the process:
a span processor appends the trace ids of slow and failed server requests to a JSON-lines
file that observability tails. Spans are exported over OTLP/HTTP only when an endpoint is
configured. Log records written while a span is active carry its `trace_id`.
"""

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id
from sqlalchemy import Engine

from target_server.config import Settings

log = logging.getLogger(__name__)

SERVICE_NAME = "breakfix-target"
# Probes and chaos calls are not the shop's traffic: no spans, no marks.
EXCLUDED_URLS = "/healthz,/ready,/metrics,/_faults"
_STATUS_ATTRIBUTES = ("http.response.status_code", "http.status_code")


class TraceMarksFile:
    """Append-only JSON lines, rotated to `<name>.1` once the file passes `max_bytes`."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path, self.max_bytes = path, max_bytes
        self._lock = threading.Lock()

    def append(self, mark: dict[str, Any]) -> None:
        """Write one mark; an I/O error is logged, never raised into the request."""
        line = json.dumps(mark, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                    # One old generation is kept: a reader that is behind still finds it.
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(line)
            except OSError:
                log.warning("trace mark not written", extra={"file": str(self.path)})


def _status(span: ReadableSpan) -> int | None:
    attributes = span.attributes or {}
    for name in _STATUS_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, int):
            return value
    return None


def classify(span: ReadableSpan, *, slow_s: float) -> str | None:
    """`failed` (5xx or error status), `slow` (longer than `slow_s`) or None for a server span."""
    if span.kind != SpanKind.SERVER or span.start_time is None or span.end_time is None:
        return None
    status = _status(span)
    if (status is not None and status >= 500) or span.status.status_code == StatusCode.ERROR:
        return "failed"
    if (span.end_time - span.start_time) / 1e9 > slow_s:
        return "slow"
    return None


class TraceMarkProcessor(SpanProcessor):
    """Writes a mark for every slow or failed server span as it ends."""

    def __init__(self, marks: TraceMarksFile, *, slow_s: float) -> None:
        self.marks, self.slow_s = marks, slow_s

    def on_end(self, span: ReadableSpan) -> None:
        """Record the span's trace id when the request was slow or failed."""
        kind = classify(span, slow_s=self.slow_s)
        if kind is None or span.context is None or span.start_time is None:
            return
        end = span.end_time or span.start_time
        attributes = span.attributes or {}
        route = attributes.get("http.route") or span.name
        self.marks.append(
            {
                "ts": round(end / 1e9, 3),
                "trace_id": format_trace_id(span.context.trace_id),
                "kind": kind,
                "route": str(route),
                "status": _status(span),
                "duration_s": round((end - span.start_time) / 1e9, 4),
            }
        )


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint (`/v1/traces` added unless present)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def build_tracer_provider(settings: Settings) -> TracerProvider:
    """A provider with the marks processor and, when configured, the OTLP exporter."""
    # The app's lifespan shuts it down; no atexit hook per app (tests build hundreds).
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}), shutdown_on_exit=False
    )
    if settings.trace_marks_file is not None:
        marks = TraceMarksFile(settings.trace_marks_file, max_bytes=settings.trace_marks_max_bytes)
        provider.add_span_processor(TraceMarkProcessor(marks, slow_s=settings.slow_trace_s))
    if settings.otlp_endpoint:
        # Imported here: the exporter pulls in requests and protobuf, unused by default.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(settings.otlp_endpoint))
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument(*, app: FastAPI, engine: Engine, provider: TracerProvider) -> None:
    """Server spans for the app and SQL spans for its engine, on `provider` only.

    `EngineTracer` is the per-engine half of the SQLAlchemy instrumentation: the
    instrumentor itself would also patch `create_engine` for the whole process.
    """
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive"]
    )
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = metrics.NoOpMeter("breakfix-target").create_up_down_counter("db.client.connections")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


_factory_lock = threading.Lock()
_factory_installed = False


def install_log_trace_ids() -> None:
    """Stamp `trace_id` on every log record made while a sampled span is current (once)."""
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format_trace_id(context.trace_id)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def setup_tracing(*, app: FastAPI, engine: Engine, settings: Settings) -> TracerProvider:
    """Instrument `app` and `engine`; the caller shuts the provider down at app exit."""
    provider = build_tracer_provider(settings)
    instrument(app=app, engine=engine, provider=provider)
    install_log_trace_ids()
    return provider
