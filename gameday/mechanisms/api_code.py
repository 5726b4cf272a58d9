"""API variants made by a code change (gameday.mechanisms.code_patch) and the traffic or
dependency change that sets it off."""

from dataclasses import dataclass, field

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import settle
from gameday.mechanisms.code_patch import CodePatch
from gameday.mechanisms.traffic import Traffic

# An import error at start-up, as after `pip uninstall` of a library uvicorn needs.
BROKEN_DEPENDENCY = """
if _TARGET:
    raise ModuleNotFoundError("No module named 'h11'", name="h11")
"""

# A debugging aid: every request's scope and response body kept "to inspect later".
REQUEST_HISTORY = """
_history = []
_inner = app

async def app(scope, receive, send):
    if scope["type"] != "http":
        return await _inner(scope, receive, send)
    kept = {"request": repr(scope), "body": []}
    _history.append(kept)

    async def keep(message):
        if message["type"] == "http.response.body":
            kept["body"].append(bytes(message.get("body", b"")))
        await send(message)

    await _inner(scope, receive, keep)
"""

# functools.lru_cache(maxsize=None) on the product list, keyed by the whole query string.
UNBOUNDED_MEMO = """
_memo = {}
_inner = app

async def app(scope, receive, send):
    key = scope.get("query_string", b"")
    if scope["type"] != "http" or scope.get("path") != "/products" or not key:
        return await _inner(scope, receive, send)
    if key in _memo:
        for message in _memo[key]:
            await send(message)
        return
    kept = []

    async def keep(message):
        kept.append(dict(message))
        await send(message)

    await _inner(scope, receive, keep)
    _memo[key] = kept
"""

# A call to the pricing upstream retried at once, forever, on every failure.
RETRY_WITHOUT_BACKOFF = """
import logging
from target_server import pricing as _pricing
_fetch = _pricing.PricingClient._fetch
_log = logging.getLogger("target_server.pricing")

def _fetch_retrying(self, sku):
    attempt = 0
    while True:
        try:
            return _fetch(self, sku)
        except _pricing.UpstreamError as exc:
            attempt += 1
            if attempt % 50 == 1:  # one line in 50 keeps the shared disk in one piece
                extra = {"sku": sku, "attempt": attempt, "error": str(exc)}
                _log.warning("pricing call failed, retrying", extra=extra)

_pricing.PricingClient._fetch = _fetch_retrying
"""

# A new price formatter behind a 30 % feature flag that raises on some input.
FLAGGED_FORMATTER = """
import random
from target_server import pricing as _pricing
_price = _pricing.PricingClient.price

def _price_flagged(self, sku):
    result = _price(self, sku)
    if random.random() < 0.3:
        raise ValueError(f"new_price_formatter: cannot format {result.quote.price_cents!r} cents")
    return result

_pricing.PricingClient.price = _price_flagged
"""

# Input validation with a catastrophic regular expression on every request's `q`.
REGEX_VALIDATION = """
import re
import urllib.parse
import anyio
_inner = app

async def app(scope, receive, send):
    if scope["type"] == "http":
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
        q = query.get("q", [""])[0]
        if q:
            await anyio.to_thread.run_sync(re.fullmatch, r"(a+)+$", q)
    await _inner(scope, receive, send)
"""

# A synchronous sleep in an async middleware: the event loop blocks on every request.
BLOCKING_MIDDLEWARE = """
import time
_inner = app

async def app(scope, receive, send):
    if scope["type"] == "http":
        time.sleep(0.5)
    await _inner(scope, receive, send)
"""

# A query selecting a column that a migration not run yet would add.
COLUMN_NOT_MIGRATED = """
from sqlalchemy import Column, Text
from target_server.models import Product
_column = Column("promo_code", Text, nullable=True)
Product.__table__.append_column(_column)
Product.__mapper__.add_property("promo_code", _column)
"""


@dataclass
class PatchWithTraffic(CodePatch):
    """A code change, then traffic (`concurrency` loops on `path`, `{n}` numbered); the
    memory leaks get one loop with no pause, as `while true; do curl ...; done` sends."""

    path: str = "/products"
    concurrency: int = 1
    every_s: float = 0.05
    traffic: Traffic | None = field(default=None, init=False)

    def after_restart(self, lab: GamedayLab) -> None:
        settle(lab, within_s=30.0)
        url = str(lab.target.base_url)
        path = self.path
        self.traffic = Traffic(
            url, lambda n: path.format(n=n), concurrency=self.concurrency, every_s=self.every_s
        ).start()

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.traffic is not None:
            self.traffic.stop()
        return super().clean(lab)


@dataclass
class PatchThenStopUpstream(CodePatch):
    """A code change, then the primary pricing upstream stopped (and started at clean-up)."""

    def after_restart(self, lab: GamedayLab) -> None:
        settle(lab, within_s=30.0)
        lab.runtime.stop("upstream-primary")
        # the spin starts on a price the cache does not hold: users ask for every price
        self.traffic = Traffic(
            str(lab.target.base_url), lambda n: f"/products/{n % 20 + 1}/price", every_s=0.5
        ).start()

    traffic: Traffic | None = field(default=None, init=False)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.traffic is not None:
            self.traffic.stop()
        left = []
        if lab.runtime.status("upstream-primary").pid is None:
            lab.runtime.start("upstream-primary")
            left.append("the primary pricing upstream was still stopped")
        return left + super().clean(lab)


def broken_dependency() -> CodePatch:
    """api-crash--broken-dependency-on-restart."""
    return CodePatch(fault="api-crash", at_import=BROKEN_DEPENDENCY)


def request_history() -> CodePatch:
    """api-memory-leak--unbounded-request-history."""
    return PatchWithTraffic(fault="api-memory-leak", at_run=REQUEST_HISTORY, every_s=0.0)


def unbounded_memo() -> CodePatch:
    """api-memory-leak--unbounded-cache-high-cardinality."""
    return PatchWithTraffic(
        fault="api-memory-leak",
        at_run=UNBOUNDED_MEMO,
        path="/products?search={n}",
        every_s=0.0,
    )


def retry_loop() -> CodePatch:
    """api-cpu-hog--retry-loop-without-backoff."""
    return PatchThenStopUpstream(fault="api-cpu-hog", at_run=RETRY_WITHOUT_BACKOFF)


def feature_flag() -> CodePatch:
    """api-error-storm--partial-feature-flag-rollout."""
    return PatchWithTraffic(
        fault="api-error-storm", at_run=FLAGGED_FORMATTER, path="/products/{n}/price", every_s=0.2
    )


def regex_backtracking() -> CodePatch:
    """api-cpu-hog--regex-backtracking: a few requests with a pathological `q`."""
    return PatchWithTraffic(
        fault="api-cpu-hog",
        at_run=REGEX_VALIDATION,
        path="/products?q=" + "a" * 28 + "!",
        every_s=20.0,
    )


def blocking_call() -> CodePatch:
    """api-latency--blocking-call-in-async-handler, under 10 concurrent clients."""
    return PatchWithTraffic(
        fault="api-latency", at_run=BLOCKING_MIDDLEWARE, concurrency=10, every_s=0.0
    )


def code_ahead_of_schema() -> CodePatch:
    """schema-drift--code-ahead-of-schema."""
    return CodePatch(fault="schema-drift", at_run=COLUMN_NOT_MIGRATED)
