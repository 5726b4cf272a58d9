"""Read-only routes over the recent window (and ops-db beyond it). No secrets are kept here:
log lines are redacted by the collector, so these routes need no key on loopback."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from observability.api.errors import InvalidPattern, SearchBusy, UnknownService
from observability.evidence import build_evidence, series_name
from observability.parts import ObservabilityParts
from observability.store import ring as store

router = APIRouter()
Service = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Since = Annotated[float, Query(gt=0, le=7 * 86400, description="seconds back from now")]
PATTERN_HELP = (
    f"an RE2 regular expression (no backreferences or lookaround) of at most"
    f" {store.PATTERN_MAX_CHARS} characters; lines are searched newest first, each in its"
    f" first {store.SEARCH_LINE_CHARS} characters, until the scan's line or time bound"
    " (then `truncated` is true)"
)


def get_parts(request: Request) -> ObservabilityParts:
    parts: ObservabilityParts = request.app.state.parts
    return parts


Parts = Annotated[ObservabilityParts, Depends(get_parts)]


def _known(parts: ObservabilityParts, service: str | None) -> None:
    if service is not None and service not in parts.ring.services():
        known = ", ".join(parts.ring.services()) or "none yet"
        raise UnknownService(f"no samples for service {service!r}; known: {known}")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/snapshot")
def snapshot(parts: Parts, service: Service = None) -> dict[str, Any]:
    """The latest value of every series, by service, and the collectors' own health."""
    _known(parts, service)
    services: dict[str, dict[str, Any]] = {}
    for sample in parts.ring.latest(service):
        entry = services.setdefault(sample.service, {"ts": sample.ts, "metrics": {}})
        entry["metrics"][series_name(sample)] = sample.value
        entry["ts"] = max(entry["ts"], sample.ts)
    return {
        "ts": time.time(),
        "services": dict(sorted(services.items())),
        "collectors": parts.collector_status(),
    }


@router.get("/series")
def series(
    parts: Parts,
    metric: Annotated[str, Query(max_length=100, pattern=r"^[a-z_][a-z0-9_]*$")],
    service: Service = None,
    since: Since = 300.0,
) -> dict[str, Any]:
    """Points of one metric; from ops-db buckets for the part older than the recent window."""
    _known(parts, service)
    now = time.time()
    start = now - since
    points = [
        {"ts": s.ts, "service": s.service, "labels": dict(s.labels), "value": s.value}
        for s in parts.ring.series(metric, service=service, since=start)
    ]
    source = "memory"
    horizon = now - parts.settings.window_s
    if start < horizon and parts.writer is not None:
        older = parts.writer.history(metric, service=service, since=start, until=horizon)
        points = older + points
        source = "ops-db+memory"
    return {
        "metric": metric,
        "service": service,
        "since": start,
        "source": source,
        "points": points,
    }


@router.get("/logs")
def logs(
    parts: Parts,
    service: Service = None,
    pattern: Annotated[str | None, Query(description=PATTERN_HELP)] = None,
    signature: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = 300.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Log lines (newest last), those matching `pattern` (RE2 syntax, bounded) when given."""
    start = time.time() - since
    if pattern:
        try:
            found = parts.ring.search_logs(
                pattern=pattern, service=service, signature=signature, since=start
            )
        except store.PatternRefused as exc:
            raise InvalidPattern(str(exc)) from None
        except store.SearchBusy as exc:
            raise SearchBusy(str(exc)) from None
        lines, scanned, truncated = found.lines, found.scanned, found.truncated
    else:
        lines = parts.ring.logs(service=service, signature=signature, since=start)
        scanned, truncated = len(lines), False
    return {
        "lines": [
            {"ts": x.ts, "service": x.service, "signature": x.signature, "line": x.line}
            for x in lines[-limit:]
        ],
        "total": len(lines),
        "scanned": scanned,
        "truncated": truncated,
    }


@router.get("/evidence")
def evidence(parts: Parts, service: Service = None, since: Since = 300.0) -> dict[str, Any]:
    """Correlated trends, log lines and slow/failed trace ids, with the alerts of the service."""
    _known(parts, service)
    now = time.time()
    document = build_evidence(parts.ring, service=service, since=now - since, now=now)
    document["alerts"] = [
        a for a in parts.alerts() if service is None or a.get("service") == service
    ]
    return document


@router.get("/alerts")
def alerts(parts: Parts) -> list[dict[str, Any]]:
    """Firing alerts and recently resolved ones."""
    return parts.alerts()


@router.get("/collectors")
def collectors(parts: Parts) -> list[dict[str, Any]]:
    """Every collector: last run, duration, failures and last error."""
    return parts.collector_status()


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(parts: Parts) -> str:
    """Prometheus text format: every series as `breakfix_<metric>`."""
    return parts.exposition()
