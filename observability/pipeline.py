"""One tick of observability: collect, keep, judge, alert, and now and then write to ops-db."""

import logging
import threading
import time
from typing import Any

from observability.collectors.runner import Runner
from observability.detector.detector import Detector
from observability.model import Collection, Sample
from observability.sinks import AlertSink
from observability.store.ops_writer import OpsWriter
from observability.store.ring import RingStore

log = logging.getLogger("observability.pipeline")


class Pipeline:
    """Collection, detection and storage in a fixed order, every `interval_s`.

    Detection runs right after the collection it judges, so an alert is never a tick late;
    ops-db writes happen on bucket boundaries and an unreachable ops-db only delays them.
    """

    def __init__(
        self,
        *,
        runner: Runner,
        ring: RingStore,
        detector: Detector,
        writer: OpsWriter | None,
        interval_s: float,
        flush_every_s: float,
        sink: AlertSink | None = None,
    ) -> None:
        self.runner, self.ring, self.detector, self.writer = runner, ring, detector, writer
        self.sink = sink  # optional mirror of alert transitions (e.g. Supabase)
        self.interval_s, self.flush_every_s = interval_s, flush_every_s
        self.store_failures = 0
        self._last_flush = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: float) -> None:
        self.ring.add(self.runner.run_once(now))
        changed = self.detector.evaluate(now)
        # each transition's own record: detector.records() holds every past episode of a
        # fingerprint too, so a lookup by fingerprint can find an older one
        records = [alert.record() for alert in changed]
        samples = self.detector.samples(now)
        if self.sink is not None:
            samples += self._mirror(self.sink, records, now)
        self.ring.add(Collection(samples=samples))
        if self.writer is None:
            return
        try:
            for record in records:
                self.writer.record_alert(record)
            if now - self._last_flush >= self.flush_every_s:
                self.writer.flush(now)
                self.writer.prune(now)
                self.ring.prune(now)
                self._last_flush = now
        except Exception as exc:  # ops-db down: memory goes on, the write is retried later
            self.store_failures += 1
            log.warning("ops-db write failed (%d so far): %s", self.store_failures, exc)

    @staticmethod
    def _mirror(sink: AlertSink, records: list[dict[str, Any]], now: float) -> list[Sample]:
        """Hand the transitions to the sink (it queues and returns); its counters back."""
        try:
            if records:
                sink.send_alerts(records)
            return sink.samples(now)
        except Exception:  # a sink never breaks the tick it observes
            log.exception("alert sink failed")
            return []

    def run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick(time.time())
            except Exception:
                log.exception("observability tick failed")
            next_tick += self.interval_s
            delay = next_tick - time.monotonic()
            if delay < 0:
                next_tick, delay = time.monotonic(), 0.0
            self._stop.wait(delay)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="observability", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
