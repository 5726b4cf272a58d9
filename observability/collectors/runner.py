"""Run every collector each interval, each on its own thread with its own timeout.

A collector that raises, hangs or is still busy from an earlier interval is counted and
reported (`status()`, and the `collector_*` samples of service "observability"); it never
delays or stops the others. A run that timed out is not abandoned: its late result is
harvested at the next interval, so the data it read (log offsets, cancelled orders) is kept.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

from lab.redaction import redact
from observability.model import Collection, Collector, Sample

log = logging.getLogger(__name__)

SELF_SERVICE = "observability"
_ERROR_MAX = 500


@dataclass
class CollectorStatus:
    """What the runner knows about one collector, as the API shows it."""

    name: str
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_ts: float | None = None
    last_success_ts: float | None = None
    last_duration_s: float | None = None
    busy_since: float | None = None

    @property
    def up(self) -> bool:
        return self.runs > 0 and self.consecutive_failures == 0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy, `up` included."""
        return {**asdict(self), "up": self.up}


@dataclass
class _Outcome:
    collection: Collection | None
    error: str | None
    duration_s: float


@dataclass
class _Slot:
    collector: Collector
    timeout_s: float
    status: CollectorStatus
    pending: Future[_Outcome] | None = None
    started: float = 0.0  # monotonic start of the pending run
    started_ts: float = 0.0  # its `now`
    up: bool = False


def describe(exc: BaseException) -> str:
    """`Type: message`, secrets redacted and length bounded: safe to show and to log."""
    text = f"{type(exc).__name__}: {exc}"
    return str(redact(text))[:_ERROR_MAX]


def _run(collector: Collector, now: float, future: Future[_Outcome]) -> None:
    begin = time.monotonic()
    try:
        collection = collector.collect(now)
        if not isinstance(collection, Collection):
            raise TypeError(f"collect() returned {type(collection).__name__}, not Collection")
        future.set_result(_Outcome(collection, None, time.monotonic() - begin))
    except Exception as exc:
        future.set_result(_Outcome(None, describe(exc), time.monotonic() - begin))


class Runner:
    """Runs `collectors` every `interval_s`; each run gets at most its timeout.

    The default timeout is 80% of the interval, so a hung collector (e.g. a probe of a
    SIGSTOPped target) never pushes a tick past its interval. `timeouts` overrides it per
    collector name. `sink` receives every tick's merged Collection (e.g. `RingStore.add`).
    """

    def __init__(
        self,
        collectors: Sequence[Collector],
        *,
        interval_s: float = 1.0,
        timeout_s: float | None = None,
        timeouts: Mapping[str, float] | None = None,
        sink: Callable[[Collection], None] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        names = [c.name for c in collectors]
        if len(set(names)) != len(names):
            raise ValueError(f"collector names must be unique: {names}")
        default = timeout_s if timeout_s is not None else 0.8 * interval_s
        overrides = dict(timeouts or {})
        self.interval_s = interval_s
        self.sink = sink
        self.sink_failures = 0
        self._slots = [
            _Slot(c, overrides.get(c.name, default), CollectorStatus(c.name)) for c in collectors
        ]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> list[CollectorStatus]:
        """A copy of every collector's status, in the order they were given."""
        with self._lock:
            return [CollectorStatus(**asdict(slot.status)) for slot in self._slots]

    def run_once(self, now: float | None = None) -> Collection:
        """One tick: start every idle collector, wait for each up to its timeout, merge."""
        now = time.time() if now is None else now
        merged = Collection()
        started: list[_Slot] = []
        for slot in self._slots:
            if slot.pending is not None:
                if not slot.pending.done():
                    busy = time.monotonic() - slot.started
                    self._failed(slot, now, f"still running from an earlier tick ({busy:.1f}s)")
                    continue
                self._harvest_late(slot, slot.pending.result(), merged)
            future: Future[_Outcome] = Future()
            slot.pending, slot.started, slot.started_ts = future, time.monotonic(), now
            threading.Thread(
                target=_run,
                args=(slot.collector, now, future),
                name=f"collector-{slot.collector.name}",
                daemon=True,  # a hung collector must not keep the process alive at exit
            ).start()
            started.append(slot)
        for slot in started:
            assert slot.pending is not None
            remaining = slot.started + slot.timeout_s - time.monotonic()
            try:
                outcome = slot.pending.result(timeout=max(remaining, 0.0))
            except FutureTimeout:
                self._failed(slot, now, f"timed out after {slot.timeout_s:.2f}s")
                with self._lock:
                    slot.status.busy_since = slot.started_ts
                    slot.status.last_duration_s = slot.timeout_s
                continue
            slot.pending = None
            self._record(slot, now, outcome, merged)
        merged.samples.extend(self._own_samples(now))
        if self.sink is not None:
            try:
                self.sink(merged)
            except Exception as exc:  # a failing store must not stop collection
                self.sink_failures += 1
                log.warning("collection sink failed: %s", describe(exc))
        return merged

    def _record(self, slot: _Slot, now: float, outcome: _Outcome, merged: Collection) -> None:
        with self._lock:
            slot.status.last_duration_s = outcome.duration_s
            slot.status.busy_since = None
        if outcome.collection is None:
            self._failed(slot, now, outcome.error or "failed")
            return
        _extend(merged, outcome.collection)
        with self._lock:
            status = slot.status
            if status.consecutive_failures:
                log.info(
                    "collector %s recovered after %d failures",
                    status.name,
                    status.consecutive_failures,
                )
            status.runs += 1
            status.consecutive_failures = 0
            status.last_success_ts = now
            slot.up = True

    def _harvest_late(self, slot: _Slot, outcome: _Outcome, merged: Collection) -> None:
        """Keep what a timed-out run read; it already counted as a failure."""
        slot.pending = None
        with self._lock:
            slot.status.busy_since = None
            slot.status.last_duration_s = outcome.duration_s
        if outcome.collection is not None:
            _extend(merged, outcome.collection)

    def _failed(self, slot: _Slot, now: float, error: str) -> None:
        with self._lock:
            status = slot.status
            if status.consecutive_failures == 0:
                log.warning("collector %s failed: %s", status.name, error)
            status.runs += 1
            status.failures += 1
            status.consecutive_failures += 1
            status.last_error, status.last_error_ts = error, now
            slot.up = False

    def _own_samples(self, now: float) -> list[Sample]:
        samples = []
        with self._lock:
            for slot in self._slots:
                labels = (("collector", slot.status.name),)
                samples.append(Sample(now, SELF_SERVICE, "collector_up", float(slot.up), labels))
                samples.append(
                    Sample(
                        now,
                        SELF_SERVICE,
                        "collector_failures_total",
                        float(slot.status.failures),
                        labels,
                    )
                )
                if slot.status.last_duration_s is not None:
                    samples.append(
                        Sample(
                            now,
                            SELF_SERVICE,
                            "collector_duration_seconds",
                            slot.status.last_duration_s,
                            labels,
                        )
                    )
        return samples

    def run_forever(self, stop: threading.Event) -> None:
        """Tick every interval until `stop` is set; a late tick never causes a burst."""
        next_tick = time.monotonic()
        while not stop.is_set():
            self.run_once(time.time())
            next_tick += self.interval_s
            delay = next_tick - time.monotonic()
            if delay < 0:
                next_tick, delay = time.monotonic(), 0.0
            stop.wait(delay)

    def start(self) -> None:
        """Run in a background thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, args=(self._stop,), name="collector-runner", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop after its current tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _extend(into: Collection, other: Collection) -> None:
    into.samples.extend(other.samples)
    into.logs.extend(other.logs)
    into.traces.extend(other.traces)
