"""Worker threads that carry ids through a handler, one worker per id at a time.

Ids wait in a queue; an id submitted while a worker handles it is queued again once that
worker is done (so an answer that arrives mid-step is never lost), and an id already queued
is not queued twice. A ticker thread calls `tick()` every `tick_s` for deadline checks.
`stop()` lets the step in progress finish.
"""

import logging
import queue
import threading
from collections.abc import Iterable

log = logging.getLogger("agent.workers")


class Workers:
    """Subclasses implement `handle(id)`, and optionally `resumable()` and `tick()`."""

    def __init__(self, *, workers: int, tick_s: float = 1.0) -> None:
        self._workers = workers
        self._tick_s = tick_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._id_locks: dict[str, threading.Lock] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def handle(self, item_id: str) -> None:
        raise NotImplementedError

    def resumable(self) -> Iterable[str]:
        """Ids to queue at start (work left over from before a restart)."""
        return ()

    def tick(self) -> None:
        """Called every `tick_s` by the ticker thread."""

    def start(self) -> None:
        """Start the workers and the ticker; queue what `resumable()` names."""
        if self._threads:
            return
        self._stop.clear()
        for n in range(self._workers):
            self._threads.append(
                threading.Thread(target=self._work, name=f"agent-worker-{n}", daemon=True)
            )
        self._threads.append(
            threading.Thread(target=self._ticker, name="agent-ticker", daemon=True)
        )
        for thread in self._threads:
            thread.start()
        try:
            for item_id in self.resumable():
                self.submit(item_id)
        except Exception:
            log.exception("could not list the work to resume")

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the step in progress, then stop (an item stays where it was)."""
        self._stop.set()
        for _ in range(self._workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def submit(self, item_id: str) -> None:
        """Queue an id (again); one worker at a time handles it."""
        with self._lock:
            if item_id in self._active:
                self._again.add(item_id)
                return
            if item_id in self._queued:
                return
            self._queued.add(item_id)
        self._queue.put(item_id)

    def idle(self) -> bool:
        """Nothing queued and nothing being handled."""
        with self._lock:
            return not self._queued and not self._active

    def holds(self, item_id: str) -> bool:
        """Whether the id is queued or being handled."""
        with self._lock:
            return item_id in self._queued or item_id in self._active

    def _id_lock(self, item_id: str) -> threading.Lock:
        """A lock per id, for what races with a worker (an HTTP answer, say)."""
        with self._lock:
            return self._id_locks.setdefault(item_id, threading.Lock())

    def _work(self) -> None:
        while not self._stop.is_set():
            item_id = self._queue.get()
            if item_id is None:
                return
            with self._lock:
                self._queued.discard(item_id)
                self._active.add(item_id)
            try:
                self.handle(item_id)
            finally:
                with self._lock:
                    self._active.discard(item_id)
                    again = item_id in self._again
                    self._again.discard(item_id)
                if again and not self._stop.is_set():
                    self.submit(item_id)

    def _ticker(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("tick failed")
