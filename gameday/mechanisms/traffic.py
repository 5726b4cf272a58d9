"""Background traffic on the target (127.0.0.1 only), as users or a curl loop send it."""

import itertools
import threading
from collections.abc import Callable

import httpx


class Traffic:
    """`concurrency` threads requesting `path_of(n)` until stopped."""

    def __init__(
        self,
        base_url: str,
        path_of: Callable[[int], str],
        *,
        concurrency: int = 1,
        every_s: float = 0.05,
        timeout_s: float = 5.0,
    ) -> None:
        self.base_url, self.path_of = base_url, path_of
        self.every_s, self.timeout_s = every_s, timeout_s
        self._stop = threading.Event()
        self._count = itertools.count()
        self._threads = [
            threading.Thread(target=self._loop, daemon=True, name=f"mech-traffic-{i}")
            for i in range(concurrency)
        ]

    def start(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5.0)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s, trust_env=False) as c:
            while not self._stop.is_set():
                try:
                    c.get(self.path_of(next(self._count)))
                except httpx.HTTPError:
                    pass  # a failing target is what the traffic is there to show
                self._stop.wait(self.every_s)
