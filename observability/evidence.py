"""The incident evidence document: trends, matching log lines and trace ids, in one place.

What an SRE would paste into an incident: for one service (or all) over a window, how each
metric moved, which log signatures fired with their recent lines, and which requests were
slow or failed (trace ids to look up).
"""

from typing import Any

from observability.model import Sample
from observability.store.ring import RingStore


def _trend(points: list[Sample]) -> dict[str, Any]:
    values = [p.value for p in points]
    first, last = values[0], values[-1]
    span = points[-1].ts - points[0].ts
    return {
        "first": first,
        "last": last,
        "min": min(values),
        "max": max(values),
        "change": last - first,
        "per_s": (last - first) / span if span > 0 else 0.0,
        "points": len(values),
    }


def series_name(sample: Sample) -> str:
    """`metric{k="v",...}`: one name per series, as Prometheus writes it."""
    if not sample.labels:
        return sample.metric
    inner = ",".join(f'{k}="{v}"' for k, v in sample.labels)
    return f"{sample.metric}{{{inner}}}"


def build_evidence(
    ring: RingStore, *, service: str | None, since: float, now: float, max_lines: int = 50
) -> dict[str, Any]:
    """The evidence of `service` (every service when None) from `since` to `now`."""
    services = [service] if service else ring.services()
    document: dict[str, Any] = {"since": since, "until": now, "services": {}}
    for name in services:
        grouped: dict[str, list[Sample]] = {}
        for metric in sorted({s.metric for s in ring.latest(name)}):
            for sample in ring.series(metric, service=name, since=since):
                grouped.setdefault(series_name(sample), []).append(sample)
        trends = {key: _trend(points) for key, points in sorted(grouped.items())}
        changed = {k: v for k, v in trends.items() if v["min"] != v["max"]}
        lines = ring.logs(service=name, since=since)
        signatures: dict[str, int] = {}
        for line in lines:
            signatures[line.signature] = signatures.get(line.signature, 0) + 1
        marks = ring.traces(service=name, since=since)
        document["services"][name] = {
            "changed": changed,
            "steady": sorted(set(trends) - set(changed)),
            "log_signatures": signatures,
            "log_lines": [
                {"ts": x.ts, "signature": x.signature, "line": x.line} for x in lines[-max_lines:]
            ],
            "traces": {
                kind: [
                    {
                        "trace_id": m.trace_id,
                        "route": m.route,
                        "status": m.status,
                        "duration_s": m.duration_s,
                        "ts": m.ts,
                    }
                    for m in marks
                    if m.kind == kind
                ][-max_lines:]
                for kind in ("slow", "failed")
            },
        }
    return document
