"""The in-memory recent window: per (service, metric, labels) ring buffers, thread-safe."""

import re
import threading
from collections import deque
from collections.abc import Iterable

from observability.model import Collection, LogLine, Sample, TraceMark

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


class RingStore:
    """The last `window_s` seconds of samples, log lines and trace marks.

    Each series keeps at most `max_points` samples; older points fall off the end whatever
    their age, so memory stays bounded with any collection interval.
    """

    def __init__(
        self, *, window_s: float = 900.0, max_points: int = 3600, max_lines: int = 5000
    ) -> None:
        self.window_s, self.max_points = window_s, max_points
        self._series: dict[SeriesKey, deque[Sample]] = {}
        self._logs: deque[LogLine] = deque(maxlen=max_lines)
        self._traces: deque[TraceMark] = deque(maxlen=max_lines)
        self._lock = threading.Lock()

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
        self,
        *,
        service: str | None = None,
        signature: str | None = None,
        pattern: str | None = None,
        since: float = 0.0,
    ) -> list[LogLine]:
        """Matching log lines newer than `since`; `pattern` is a regular expression."""
        regex = re.compile(pattern) if pattern else None
        with self._lock:
            lines = list(self._logs)
        return [
            line
            for line in lines
            if line.ts > since
            and (service is None or line.service == service)
            and (signature is None or line.signature == signature)
            and (regex is None or regex.search(line.line))
        ]

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
