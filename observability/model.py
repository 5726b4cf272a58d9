"""What collectors produce and everything downstream reads: samples, log lines, trace marks.

One vocabulary for the whole package. A sample is one number about one service at one time
(`metric` names carry their unit: `_seconds`, `_bytes`, `_ratio`, `_total`); `labels` refine it
(e.g. a Postgres connection state). Log lines are the matching lines of the log collector;
trace marks are the ids of slow or failed requests.
"""

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Sample:
    """One value: `service`'s `metric` at `ts` (Unix seconds)."""

    ts: float
    service: str
    metric: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


@dataclass(frozen=True)
class LogLine:
    """A log line of `service` that matched `signature` (a catalogue entry's name)."""

    ts: float
    service: str
    signature: str
    line: str


@dataclass(frozen=True)
class TraceMark:
    """A slow or failed request's trace id, as the target's spans or logs report it."""

    ts: float
    service: str
    trace_id: str
    kind: str  # "slow" | "failed"
    route: str
    status: int | None
    duration_s: float


@dataclass
class Collection:
    """What one collector run produced."""

    samples: list[Sample] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    traces: list[TraceMark] = field(default_factory=list)


class Collector(Protocol):
    """A source of signals, run every interval; it raises when it cannot collect.

    A raised exception is counted and reported by the runner (never silently skipped) and
    never stops the other collectors.
    """

    name: str

    def collect(self, now: float) -> Collection: ...
