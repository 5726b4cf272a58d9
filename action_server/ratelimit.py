"""Rate limits per key and per action class, with slowapi's limiter and storage."""

import math
import time

from limits import parse
from slowapi import Limiter
from starlette.requests import Request

from action_server.config import Settings
from action_server.errors import RateLimited


def _key_of(request: Request) -> str:
    return str(getattr(request.state, "key_id", None) or "anonymous")


class RateLimits:
    """`read`, `dry_run` and one class per risk level, each its own configurable window."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = Limiter(key_func=_key_of, strategy="moving-window")
        self.limits = {
            "read": parse(settings.rate_read),
            "dry_run": parse(settings.rate_dry_run),
            "low": parse(settings.rate_low),
            "medium": parse(settings.rate_medium),
            "high": parse(settings.rate_high),
        }

    def hit(self, *, key_id: str, action_class: str) -> None:
        """Count one request; RateLimited with Retry-After when the window is full."""
        item = self.limits[action_class]
        strategy = self.limiter.limiter
        if strategy.hit(item, key_id, action_class):
            return
        reset_at = strategy.get_window_stats(item, key_id, action_class).reset_time
        raise RateLimited(
            f"rate limit {item} for {action_class!r} actions exceeded for this key",
            retry_after_s=math.ceil(reset_at - time.time()),
        )
