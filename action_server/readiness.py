"""Waiting for a service's own readiness after an action touched it."""

import time

import httpx

from action_server.context import ActionContext
from lab.tls import client_tls


def wait_target_ready(ctx: ActionContext, *, timeout_s: float | None = None) -> float | None:
    """Seconds until the target's /ready answered 200, or None if it did not in time."""
    started = time.monotonic()
    deadline = started + (timeout_s if timeout_s is not None else ctx.ready_timeout_s)
    with httpx.Client(timeout=2.0, trust_env=False, verify=client_tls()) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{ctx.target_url}/ready").status_code == 200:
                    return round(time.monotonic() - started, 3)
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return None


def target_ready_now(ctx: ActionContext) -> bool:
    """One readiness probe of the target."""
    try:
        with httpx.Client(timeout=2.0, trust_env=False, verify=client_tls()) as client:
            return client.get(f"{ctx.target_url}/ready").status_code == 200
    except httpx.HTTPError:
        return False
