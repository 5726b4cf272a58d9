"""The hooks that run on their own threads: a memory leak and a CPU hog."""

import mmap
import threading
import time
from typing import Any, Protocol

MIB = 2**20
_FILL = b"\xa5" * MIB  # written into each chunk so every page is really resident
_HOG_PERIOD_S = 0.1


class Mechanism(Protocol):
    """A running hook: it can say what it holds, and be stopped (idempotently)."""

    def status(self) -> dict[str, Any]:
        """What the hook holds or does right now."""
        ...

    def stop(self) -> None:
        """Stop the threads and release what they hold."""
        ...


class MemoryLeak:
    """Anonymous mappings of 1 MiB, written through, added at a rate and held.

    mmap rather than bytearray: unmapping on stop gives the pages straight back to the OS,
    so RSS falls back near where it was (heap memory freed by malloc often stays resident).
    """

    def __init__(self, *, rate_mb_s: float, max_mb: int, tick_s: float = 0.05) -> None:
        self.rate_mb_s, self.max_mb, self.tick_s = rate_mb_s, max_mb, tick_s
        self._chunks: list[mmap.mmap] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-memory-leak", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        begin = time.monotonic()
        while not self._stopped.is_set():
            due = min(self.max_mb, int(self.rate_mb_s * (time.monotonic() - begin)))
            while not self._stopped.is_set() and len(self._chunks) < due:
                chunk = mmap.mmap(-1, MIB)
                chunk.write(_FILL)
                with self._lock:
                    if self._stopped.is_set():
                        chunk.close()
                        return
                    self._chunks.append(chunk)
            if len(self._chunks) >= self.max_mb:
                return  # full: hold the memory until stopped
            self._stopped.wait(self.tick_s)

    def status(self) -> dict[str, Any]:
        """MiB held so far."""
        with self._lock:
            return {"held_mb": len(self._chunks)}

    def stop(self) -> None:
        """Stop allocating and unmap every chunk."""
        self._stopped.set()
        self._thread.join(timeout=5)
        with self._lock:
            chunks, self._chunks = self._chunks, []
        for chunk in chunks:
            chunk.close()


class CpuHog:
    """Pure-Python busy loops: they hold the GIL, so they slow the API's own threads too."""

    def __init__(self, *, threads: int, duty: float) -> None:
        self.duty = duty
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=self._spin, name=f"fault-cpu-hog-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _spin(self) -> None:
        busy = self.duty * _HOG_PERIOD_S
        idle = _HOG_PERIOD_S - busy
        value = 1
        while not self._stopped.is_set():
            until = time.perf_counter() + busy
            while time.perf_counter() < until:
                value = (value * 31 + 7) % 1_000_003
            if idle > 0:
                self._stopped.wait(idle)

    def status(self) -> dict[str, Any]:
        """How many busy threads are alive."""
        return {"threads_alive": sum(t.is_alive() for t in self._threads)}

    def stop(self) -> None:
        """Stop and join every busy thread."""
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)
