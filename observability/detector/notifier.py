"""Delivering notifications to webhook receivers, off the evaluation path.

Each receiver has its own queue and thread, so a slow or dead receiver delays nobody else
and never the detector. A delivery is retried with exponential backoff up to a cap and a
number of attempts; every outcome is counted (`alert_deliveries_total` by outcome).
"""

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from observability.model import Sample

log = logging.getLogger("observability.notifier")
OUTCOMES = ("success", "retry", "failure", "dropped")


@dataclass(frozen=True)
class Receiver:
    """A webhook URL, with a bearer token when it wants one."""

    url: str
    bearer_token: str | None = None
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Backoff:
    """Attempts and the waits between them: initial, doubled each time, never over the cap."""

    attempts: int = 5
    initial_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.cap_s, self.initial_s * self.factor ** (attempt - 1)))


class _Worker:
    def __init__(self, notifier: "Notifier", receiver: Receiver, max_queue: int) -> None:
        self.notifier, self.receiver = notifier, receiver
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self.thread = threading.Thread(target=self._run, name="alert-notifier", daemon=True)

    def _run(self) -> None:
        while (payload := self.queue.get()) is not None:
            try:
                self._deliver(payload)
            finally:
                self.queue.task_done()
        self.queue.task_done()

    def _deliver(self, payload: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        if self.receiver.bearer_token:
            headers["Authorization"] = f"Bearer {self.receiver.bearer_token}"
        backoff = self.notifier.backoff
        for attempt in range(1, backoff.attempts + 1):
            error = self._post(payload, headers)
            if error is None:
                self.notifier.count("success")
                return
            last = attempt == backoff.attempts or self.notifier.stopping.is_set()
            self.notifier.count("failure" if last else "retry")
            log.warning(
                "alert delivery to %s failed (attempt %d/%d): %s",
                self.receiver.url,
                attempt,
                backoff.attempts,
                error,
            )
            if last:
                return
            if self.notifier.stopping.wait(backoff.delay(attempt)):
                self.notifier.count("failure")
                return

    def _post(self, payload: dict[str, Any], headers: dict[str, str]) -> str | None:
        try:
            response = self.notifier.post(
                self.receiver.url, json=payload, headers=headers, timeout=self.receiver.timeout_s
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"


class Notifier:
    """Queues notifications per receiver and delivers them from background threads."""

    def __init__(
        self,
        receivers: list[Receiver],
        *,
        backoff: Backoff | None = None,
        max_queue: int = 1000,
        post: Callable[..., httpx.Response] = httpx.post,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.post = post
        self.stopping = threading.Event()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._workers = [_Worker(self, r, max_queue) for r in receivers]
        for worker in self._workers:
            worker.thread.start()

    def count(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def counts(self) -> dict[str, int]:
        """Deliveries so far by outcome (every outcome present, zero or not)."""
        with self._lock:
            return {o: self._counts[o] for o in OUTCOMES}

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a payload for every receiver; never blocks (a full queue drops, counted)."""
        for worker in self._workers:
            try:
                worker.queue.put_nowait(payload)
            except queue.Full:
                self.count("dropped")
                log.error("alert queue for %s is full: notification dropped", worker.receiver.url)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued notification is delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            while worker.queue.unfinished_tasks:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop retrying, finish what is in flight, stop the threads."""
        self.stopping.set()
        for worker in self._workers:
            try:
                worker.queue.put(None, timeout=timeout)
            except queue.Full:
                continue
        for worker in self._workers:
            worker.thread.join(timeout=timeout)

    def samples(self, now: float) -> list[Sample]:
        """The delivery counters as samples of the `observability` service."""
        return [
            Sample(now, "observability", "alert_deliveries_total", float(n), (("outcome", o),))
            for o, n in self.counts().items()
        ]
