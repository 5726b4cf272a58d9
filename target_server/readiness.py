"""Readiness checks (db, migrations, cache, upstream), each run in a thread with a deadline."""

import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from sqlalchemy import text

from target_server import migrations
from target_server.parts import TargetParts
from target_server.schemas import CheckResult, Readiness

CHECK_DEADLINE_S = 4.0


def check_db(runtime: TargetParts) -> str:
    """SELECT 1 through the app's pool."""
    with runtime.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "SELECT 1 ok"


def check_migrations(runtime: TargetParts) -> str:
    """The database's Alembic revision equals the package's head."""
    head = runtime.head_revision()
    with runtime.engine.connect() as conn:
        current = migrations.current_revision_of(conn)
    if current != head:
        raise RuntimeError(f"database at revision {current}, head is {head}")
    return f"at head {head}"


def check_cache(runtime: TargetParts) -> str:
    """The cache directory takes a write and a delete."""
    runtime.cache.probe()
    return f"{runtime.cache.directory} writable"


def check_upstream(runtime: TargetParts) -> str:
    """The selected pricing route answers /healthz."""
    return runtime.pricing.check()


CHECKS: dict[str, Callable[[TargetParts], str]] = {
    "db": check_db,
    "migrations": check_migrations,
    "cache": check_cache,
    "upstream": check_upstream,
}


def run_checks(runtime: TargetParts) -> Readiness:
    """Run every check concurrently; one that overruns the deadline counts as failed."""
    begin = time.perf_counter()
    futures = {name: runtime.checks.submit(_timed, fn, runtime) for name, fn in CHECKS.items()}
    results = {name: _outcome(future, begin) for name, future in futures.items()}
    ready = all(r.ok for r in results.values())
    return Readiness(status="ready" if ready else "not_ready", checks=results)


def _timed(fn: Callable[[TargetParts], str], runtime: TargetParts) -> CheckResult:
    begin = time.perf_counter()
    try:
        detail, ok = fn(runtime), True
    except Exception as exc:
        detail, ok = describe(exc), False
    return CheckResult(ok=ok, detail=detail, latency_ms=_ms_since(begin))


def _outcome(future: Future[CheckResult], begin: float) -> CheckResult:
    remaining = max(0.0, CHECK_DEADLINE_S - (time.perf_counter() - begin))
    try:
        return future.result(timeout=remaining)
    except FutureTimeout:
        return CheckResult(
            ok=False, detail=f"timed out after {CHECK_DEADLINE_S:.0f}s", latency_ms=_ms_since(begin)
        )


def describe(exc: BaseException) -> str:
    """Error class and the first line of the driver's message (never a DSN or parameters)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__


def _ms_since(begin: float) -> float:
    return round((time.perf_counter() - begin) * 1000, 2)
