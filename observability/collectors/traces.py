"""Slow and failed requests' trace ids, from the JSON-lines file the target writes."""

import json
from pathlib import Path
from typing import Any

from observability.collectors.file_tail import FileTail
from observability.model import Collection, Sample, TraceMark

SERVICE = "target"
KINDS = ("slow", "failed")


def parse_mark(line: str, *, service: str = SERVICE) -> TraceMark:
    """One line: {"ts", "trace_id" (32 hex), "kind", "route", "status", "duration_s"}."""
    doc: Any = json.loads(line)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    trace_id, kind, status = doc.get("trace_id"), doc.get("kind"), doc.get("status")
    if not isinstance(trace_id, str) or len(trace_id) != 32:
        raise ValueError(f"trace_id must be 32 hex characters, got {trace_id!r}")
    int(trace_id, 16)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if status is not None and not isinstance(status, int):
        raise ValueError(f"status must be an integer or null, got {status!r}")
    return TraceMark(
        ts=float(doc["ts"]),
        service=service,
        trace_id=trace_id.lower(),
        kind=kind,
        route=str(doc.get("route", "")),
        status=status,
        duration_s=float(doc.get("duration_s", 0.0)),
    )


class TraceCollector:
    """TraceMark items from `<state dir>/traces/target.jsonl`; no file yet is no marks."""

    name = "traces"

    def __init__(self, *, path: Path, service: str = SERVICE, max_kib_per_pass: int = 256):
        self.service = service
        self._tail = FileTail(path, max_bytes=max_kib_per_pass * 1024)
        self.invalid = 0
        self.last_invalid: str | None = None

    def close(self) -> None:
        self._tail.close()

    def collect(self, now: float) -> Collection:
        """New marks; a malformed line is counted (trace_marks_invalid_total), not fatal."""
        out = Collection()
        for line in self._tail.read():
            try:
                out.traces.append(parse_mark(line, service=self.service))
            except (ValueError, KeyError, TypeError) as exc:
                self.invalid += 1
                self.last_invalid = f"{exc}: {line[:200]}"
        out.samples.append(Sample(now, self.service, "trace_marks_invalid_total", self.invalid))
        return out
