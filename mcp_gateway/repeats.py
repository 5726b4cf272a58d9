"""Refusing an identical call repeated within a short window (a model stuck in a loop)."""

import json
import threading
import time
from typing import Any


class RepeatGuard:
    """Remembers each call (tool and arguments) for `window_s` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def refuse(self, tool: str, query: dict[str, Any]) -> str | None:
        """Why this call is refused, or None (it is then remembered)."""
        if self.window_s <= 0:
            return None
        key = tool + json.dumps(query, sort_keys=True, default=str)
        now = time.monotonic()
        with self._lock:
            for old in [k for k, at in self._last.items() if now - at >= self.window_s]:
                del self._last[old]
            if key in self._last:
                ago = now - self._last[key]
                return (
                    f"identical call made {ago:.1f} s ago: use its result, or wait "
                    f"{self.window_s - ago:.1f} s (calls repeated within {self.window_s:g} s "
                    "are refused)"
                )
            self._last[key] = now
        return None
