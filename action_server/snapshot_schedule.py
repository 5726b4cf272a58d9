"""The scheduled snapshot, kept out of a remediation's way.

It is skipped while a session holds or awaits an ACCESS EXCLUSIVE lock on shop (a dump
would queue behind it holding target-db's action lock); it never waits for that action lock
either; its dump waits at most `lock_timeout_s` on any table; and while it holds the lock it
yields: as soon as a request waits for target-db, its sessions are ended, its files removed
and the lock released. Every attempt is a run record (`scheduled:snapshot-db`); one that
was skipped or cancelled is retried after `retry_s`, at most `retries` times per regular run.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg2

from action_server.context import ActionContext, ActionFailed, Outcome, Plan
from action_server.db_admin import admin_connection, named_sessions, terminate
from action_server.errors import TargetBusy
from action_server.locks import target_lock, waiting_for
from action_server.runs import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    background_writer,
)
from action_server.snapshot_dump import (
    DumpLimits,
    SnapshotCancelled,
    TargetLocked,
    locked_message,
    locks_on_shop,
)
from action_server.snapshot_store import prune, take_snapshot
from action_server.store import Store

log = logging.getLogger("action_server.background")
ACTION = "scheduled:snapshot-db"
SCHEDULED = "scheduled"
TARGET = "target-db"
WATCH_INTERVAL_S = 0.2


@dataclass
class SnapshotJob:
    """Scheduled snapshots of shop that give way to remediations, and retry soon after."""

    ctx: ActionContext
    store: Store
    keep: int
    lock_timeout_s: float = 5.0
    statement_timeout_s: float = 120.0
    retry_s: float = 60.0
    retries: int = 5
    schedule_retry: Callable[[float], None] | None = None  # runs `attempt` after a delay
    retries_left: int = field(init=False)
    _busy: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.retries_left = self.retries

    def tick(self) -> str:
        """The regular run: a fresh retry budget, then an attempt."""
        self.retries_left = self.retries
        return self.attempt()

    def attempt(self) -> str:
        """One recorded attempt (its status); a skipped or cancelled one asks for a retry."""
        if not self._busy.acquire(blocking=False):
            return SKIPPED  # the other attempt under way will do
        try:
            status = self._attempt()
        except Exception:  # a failing job is logged and tried again at its next tick
            log.exception("scheduled snapshot failed")
            status = FAILED
        finally:
            self._busy.release()
        if status in (SKIPPED, CANCELLED) and self.retries_left > 0 and self.schedule_retry:
            self.retries_left -= 1
            log.info("scheduled snapshot %s; retrying in %g s", status, self.retry_s)
            self.schedule_retry(self.retry_s)
        return status

    def _attempt(self) -> str:
        record = _Record(self.store)
        try:
            locks = locks_on_shop(self.ctx)
        except psycopg2.Error as exc:
            return record.end(FAILED, f"target-db unreachable: {exc.pgerror or exc}")
        if locks:
            found = {"locks": [x.as_dict() for x in locks]}
            return record.end(SKIPPED, locked_message(locks), found)
        limits = DumpLimits(
            lock_timeout_s=self.lock_timeout_s,
            statement_timeout_s=self.statement_timeout_s,
            application_name=f"breakfix-snapshot-{record.run_id[:12]}",
        )
        yielder = _Yielder(self.ctx, self.store, limits)
        try:
            with target_lock(store=self.store, targets=(TARGET,), wait_s=0.0, yields=True):
                record.running()
                with yielder:
                    manifest = take_snapshot(self.ctx, label=SCHEDULED, limits=limits)
        except TargetBusy as exc:
            return record.end(SKIPPED, f"skipped: {exc}", exc.extra)
        except SnapshotCancelled:
            return record.end(CANCELLED, f"cancelled: {yielder.reason}; nothing was kept")
        except TargetLocked as exc:
            return record.end(SKIPPED, str(exc), {"locks": [x.as_dict() for x in exc.locks]})
        except ActionFailed as exc:
            return record.end(FAILED, str(exc))
        pruned = prune(self.ctx, label=SCHEDULED, keep=self.keep)
        summary = f"scheduled snapshot {manifest['name']} written and verified"
        return record.end(SUCCEEDED, summary, {**manifest, "pruned": pruned})


class _Record:
    """The attempt's run record and log lines; a failure to record never stops the job."""

    def __init__(self, store: Store) -> None:
        self._writer = background_writer(store=store, action=ACTION)
        self._plan = Plan(summary="scheduled snapshot of shop")
        self.run_id = self._writer.run_id.hex

    def running(self) -> None:
        self._write(RUNNING, None)

    def end(self, status: str, summary: str, details: dict[str, Any] | None = None) -> str:
        level = logging.INFO if status == SUCCEEDED else logging.WARNING
        log.log(level, "scheduled snapshot (run %s) %s: %s", self._writer.run_id, status, summary)
        outcome = Outcome(summary=summary, details=details or {}, verified=status == SUCCEEDED)
        self._write(status, outcome)
        return status

    def _write(self, status: str, outcome: Outcome | None) -> None:
        error = outcome.summary if outcome is not None and status == FAILED else None
        try:
            self._writer.write(status=status, plan=self._plan, outcome=outcome, error=error)
        except Exception:
            log.exception("the scheduled snapshot's run record was not written")


class _Yielder:
    """While a snapshot holds target-db: once a request waits for its lock, set the dump's
    stop flag and end its sessions on target-db (again until the dump has stopped)."""

    def __init__(self, ctx: ActionContext, store: Store, limits: DumpLimits) -> None:
        self.ctx, self.store, self.limits = ctx, store, limits
        self.reason = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="snapshot-yield", daemon=True)

    def __enter__(self) -> "_Yielder":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._done.wait(WATCH_INTERVAL_S):
            try:
                if not self.limits.stop.is_set():
                    waiting = waiting_for(self.store, TARGET)
                    if not waiting:
                        continue
                    self.reason = f"yielded {TARGET} to {waiting} waiting request(s)"
                    log.warning("scheduled snapshot: %s", self.reason)
                    self.limits.stop.set()
                with admin_connection(self.ctx.target_db) as conn:
                    terminate(conn, named_sessions(conn, self.limits.application_name))
            except Exception:  # keep watching: the lock timeouts still bound the dump
                log.exception("scheduled snapshot: the yield watch failed")
