"""Writes from many callers made together: one transaction for whatever is waiting.

One writer thread takes every job queued so far, writes them in one go and answers each;
jobs arriving meanwhile are written in the next go. Nothing waits for a batch to fill: a
lone call is written at once, and a storm is written in as many transactions as the store
can commit one after another instead of one per call. Callers are threads (`submit`) or
coroutines (`submit_async`: no thread per call, so an event loop hands a storm over
cheaply). Each caller gets its own job's result, or its own job's error: when a go fails,
its jobs are written again one by one, so a bad job fails alone (unless the store itself
failed: then every job of the go gets that error at once). A coroutine cancelled
while it waits leaves its job to be written all the same.
"""

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")

MAX_BATCH = 500  # jobs per transaction: bounds how long one commit holds the intake
_JOIN_S = 30.0


@dataclass
class _Slot(Generic[J, R]):
    job: J
    wake: Callable[[], None]  # called once, when its answer is in
    result: R | None = None
    error: BaseException | None = None


def _settle(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


class GroupCommit(Generic[J, R]):
    """`submit(job)` from any thread, or `submit_async` on an event loop; `write(jobs)`
    answers each job, in order, in one go, on the writer thread (started when needed)."""

    def __init__(
        self,
        write: Callable[[Sequence[J]], list[R]],
        *,
        name: str,
        fails_all: tuple[type[Exception], ...] = (),
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`fails_all`: errors that are no job's fault (the store is down): every job of the
        go gets it, none is tried again alone."""
        self._write = write
        self._fails_all = fails_all
        self._name, self._max_batch = name, max_batch
        self._cv = threading.Condition()
        self._queue: list[_Slot[J, R]] = []
        self._thread: threading.Thread | None = None
        self._closing = False

    def submit(self, job: J) -> R:
        """The result of writing `job` (written with whatever else waits), or its error."""
        answered = threading.Event()
        slot: _Slot[J, R] = _Slot(job, answered.set)
        self._put(slot)
        answered.wait()
        return self._outcome(slot)

    async def submit_async(self, job: J) -> R:
        """`submit` for a coroutine: it waits on its event loop, not in a thread."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(_settle, answered)
            except RuntimeError:  # its loop is closed: no one is waiting any more
                pass

        slot: _Slot[J, R] = _Slot(job, wake)
        self._put(slot)
        await answered
        return self._outcome(slot)

    def close(self) -> None:
        """Write what is queued, then stop the writer (a later submit starts it again)."""
        with self._cv:
            self._closing = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=_JOIN_S)
        with self._cv:
            self._closing = False

    def _put(self, slot: _Slot[J, R]) -> None:
        with self._cv:
            self._queue.append(slot)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            else:
                self._cv.notify()

    def _work(self) -> None:
        """The writer: one go after another while jobs wait; gone when closed and drained."""
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    self._thread = None
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            try:
                self._run(batch)
            finally:
                for slot in batch:
                    slot.wake()

    @staticmethod
    def _outcome(slot: _Slot[J, R]) -> R:
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # done without error: set

    def _run(self, batch: list[_Slot[J, R]]) -> None:
        """Write `batch` together; when that fails, each job alone. Every slot is answered."""
        try:
            try:
                self._answer(batch, self._write([s.job for s in batch]))
            except Exception as exc:
                if len(batch) == 1 or isinstance(exc, self._fails_all):
                    for slot in batch:
                        slot.error = exc
                else:
                    for slot in batch:
                        try:
                            self._answer([slot], self._write([slot.job]))
                        except Exception as alone:
                            slot.error = alone
        finally:
            for slot in batch:
                if slot.result is None and slot.error is None:  # interrupted mid-write
                    slot.error = RuntimeError("the write was interrupted")

    @staticmethod
    def _answer(slots: list[_Slot[J, R]], results: list[R]) -> None:
        if len(results) != len(slots):
            raise RuntimeError(f"{len(results)} results for {len(slots)} jobs")
        for slot, result in zip(slots, results, strict=True):
            slot.result = result
