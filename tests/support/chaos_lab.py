"""Chaos tests on a background lab: the chaos app factory's type, its allowlist, the target's
URL and the checks the fault tests wait on."""

import time
from collections.abc import Callable

import httpx

from breakfix.background import BackgroundLab
from tests.support.asgi import TestClient

ALLOWLIST = ["target", "target-db", "upstream-primary", "upstream-fallback"]
ChaosFactory = Callable[..., TestClient]


def target_url(lab: BackgroundLab, path: str = "") -> str:
    return f"http://127.0.0.1:{lab.port('TARGET')}{path}"


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.1)


def products_ok(lab: BackgroundLab, timeout: float = 5.0) -> bool:
    try:
        return httpx.get(target_url(lab, "/products"), timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
