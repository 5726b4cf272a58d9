"""Waiting for a condition, bounded in time."""

import time
from collections.abc import Callable


def until(check: Callable[[], bool], within_s: float, every_s: float = 0.5) -> bool:
    """Poll `check` until it is true or `within_s` has passed; whether it became true."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True
