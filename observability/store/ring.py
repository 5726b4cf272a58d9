"""The in-memory recent window: per (service, metric, labels) ring buffers, thread-safe.

Log lines can be searched with a reader's pattern (`GET /logs?pattern=`): that pattern is
untrusted, so it runs on RE2 (linear time, no backtracking) with a small memory bound, over
a bounded number of lines within a time budget, one search at a time, and never under the
lock the pipeline takes to add what it collected.
"""

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import re2

from observability.model import Collection, LogLine, Sample, TraceMark

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]

PATTERN_MAX_CHARS = 200
# RE2's memory for one pattern: it bounds the compiled program (about a thousand
# instructions) and so the cost of each byte searched; larger programs are refused.
PATTERN_MAX_MEM = 64 * 1024
SEARCH_LINE_CHARS = 8192  # a line is searched in its first 8 KiB (the tailer keeps 64 KiB)


class Matcher(Protocol):
    """What the search needs of a compiled pattern (RE2's module is untyped)."""

    def search(self, text: str) -> object | None: ...


class PatternRefused(ValueError):
    """A reader's pattern the log search will not run; the message says what was wrong."""


class SearchBusy(RuntimeError):
    """Every log search slot stayed taken for the whole wait."""


@dataclass(frozen=True)
class LogSearch:
    """Matching lines (oldest first), how many lines were searched, whether it stopped early.

    `truncated`: the line bound or the time budget ended the scan; older lines went unread.
    """

    lines: list[LogLine]
    scanned: int
    truncated: bool


def compile_pattern(pattern: str) -> Matcher:
    """`pattern` compiled by RE2 under the search's bounds, or PatternRefused saying why."""
    if len(pattern) > PATTERN_MAX_CHARS:
        raise PatternRefused(
            f"pattern is {len(pattern)} characters long; at most {PATTERN_MAX_CHARS}"
        )
    options = re2.Options()
    options.max_mem = PATTERN_MAX_MEM
    options.never_capture = True  # only whether a line matches is wanted
    options.log_errors = False  # a reader's typo is their answer, not our stderr
    try:
        compiled: Matcher = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "unknown error"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternRefused(
            f"pattern refused by RE2: {reason} (RE2 has no backreferences or lookaround;"
            " end of text is \\z)"
        ) from None
    return compiled


class RingStore:
    """The last `window_s` seconds of samples, log lines and trace marks.

    Each series keeps at most `max_points` samples; older points fall off the end whatever
    their age, so memory stays bounded with any collection interval.
    """

    def __init__(
        self,
        *,
        window_s: float = 900.0,
        max_points: int = 3600,
        max_lines: int = 5000,
        search_max_lines: int = 5000,
        search_budget_s: float = 0.25,
        search_slots: int = 1,
    ) -> None:
        self.window_s, self.max_points = window_s, max_points
        self.search_max_lines, self.search_budget_s = search_max_lines, search_budget_s
        self._series: dict[SeriesKey, deque[Sample]] = {}
        self._logs: deque[LogLine] = deque(maxlen=max_lines)
        self._traces: deque[TraceMark] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        # one search at a time (by default) keeps a burst of readers to one core's worth
        self._search_slots = threading.BoundedSemaphore(search_slots) if search_slots else None

    def add(self, collection: Collection) -> None:
        with self._lock:
            for sample in collection.samples:
                key = (sample.service, sample.metric, sample.labels)
                ring = self._series.get(key)
                if ring is None:
                    ring = self._series[key] = deque(maxlen=self.max_points)
                ring.append(sample)
            self._logs.extend(collection.logs)
            self._traces.extend(collection.traces)

    def prune(self, now: float) -> None:
        """Drop what is older than the window."""
        horizon = now - self.window_s
        with self._lock:
            for key in list(self._series):
                ring = self._series[key]
                while ring and ring[0].ts < horizon:
                    ring.popleft()
                if not ring:
                    del self._series[key]
            while self._logs and self._logs[0].ts < horizon:
                self._logs.popleft()
            while self._traces and self._traces[0].ts < horizon:
                self._traces.popleft()

    def latest(self, service: str | None = None) -> list[Sample]:
        """The newest sample of every series (of one service, or all)."""
        with self._lock:
            return [
                ring[-1]
                for (svc, _, _), ring in self._series.items()
                if ring and (service is None or svc == service)
            ]

    def series(
        self,
        metric: str,
        *,
        service: str | None = None,
        since: float = 0.0,
        labels: dict[str, str] | None = None,
    ) -> list[Sample]:
        """Samples of `metric` newer than `since`, oldest first, across matching series."""
        wanted = labels or {}
        with self._lock:
            rings: Iterable[deque[Sample]] = [
                ring
                for (svc, name, lbls), ring in self._series.items()
                if name == metric
                and (service is None or svc == service)
                and all(dict(lbls).get(k) == v for k, v in wanted.items())
            ]
            points = [s for ring in rings for s in ring if s.ts > since]
        return sorted(points, key=lambda s: s.ts)

    def logs(
        self, *, service: str | None = None, signature: str | None = None, since: float = 0.0
    ) -> list[LogLine]:
        """Log lines newer than `since`, of `service` and `signature` when given."""
        with self._lock:
            lines = list(self._logs)
        return [
            line
            for line in lines
            if line.ts > since
            and (service is None or line.service == service)
            and (signature is None or line.signature == signature)
        ]

    def search_logs(
        self,
        *,
        pattern: str,
        service: str | None = None,
        signature: str | None = None,
        since: float = 0.0,
    ) -> LogSearch:
        """Log lines matching a reader's `pattern`, newest first until a bound, then in order.

        PatternRefused when RE2 or the bounds refuse the pattern; SearchBusy when no search
        slot frees up within the time budget.
        """
        regex = compile_pattern(pattern)
        slots = self._search_slots
        if slots is None or not slots.acquire(timeout=self.search_budget_s):
            raise SearchBusy("every log search slot is taken; try again in a second")
        try:
            candidates = self.logs(service=service, signature=signature, since=since)
            deadline = time.monotonic() + self.search_budget_s
            found: list[LogLine] = []
            scanned = 0
            for line in reversed(candidates):
                if scanned >= self.search_max_lines or time.monotonic() >= deadline:
                    break
                scanned += 1
                # RE2 releases the GIL while it matches: the pipeline's threads run meanwhile
                if regex.search(line.line[:SEARCH_LINE_CHARS]) is not None:
                    found.append(line)
        finally:
            slots.release()
        found.reverse()
        return LogSearch(lines=found, scanned=scanned, truncated=scanned < len(candidates))

    def traces(self, *, service: str | None = None, since: float = 0.0) -> list[TraceMark]:
        with self._lock:
            marks = list(self._traces)
        return [m for m in marks if m.ts > since and (service is None or m.service == service)]

    def between(self, since: float, until: float) -> dict[SeriesKey, list[Sample]]:
        """Every series' samples with since <= ts < until (for downsampling)."""
        with self._lock:
            found = {
                key: [s for s in ring if since <= s.ts < until]
                for key, ring in self._series.items()
            }
        return {key: points for key, points in found.items() if points}

    def services(self) -> list[str]:
        with self._lock:
            return sorted({svc for svc, _, _ in self._series})
