"""pg_dump of `shop` under an exported snapshot, with every wait on target-db bounded.

A dump that meets a lock gives way instead of queueing behind it (it would hold the
target's action lock all the while): its sessions wait at most `lock_timeout_s` on any
table, and a set `stop` flag ends it at the next step.
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import errorcodes

from action_server.context import ActionContext, ActionFailed
from action_server.db_admin import (
    ACTION_APP_NAME,
    ExclusiveLock,
    admin_connection,
    alembic_revision,
    client_args,
    exclusive_locks,
    max_ids,
    row_counts,
    run_client,
)
from lab.chaos_role import CHAOS_SCHEMA
from lab.services import APP_DB


class SnapshotSkipped(ActionFailed):
    """The snapshot gave way before it was complete; nothing of it was kept."""


class TargetLocked(SnapshotSkipped):
    """A session holds (or awaits) an ACCESS EXCLUSIVE lock on a table the dump reads."""

    def __init__(self, message: str, *, locks: list[ExclusiveLock]) -> None:
        super().__init__(message)
        self.locks = locks


class SnapshotCancelled(SnapshotSkipped):
    """Its `stop` flag was set: something else needed target-db."""


@dataclass(frozen=True)
class DumpLimits:
    """How long a dump's sessions may wait, what they are called (so that they can be found
    and ended), and the flag that stops it."""

    lock_timeout_s: float = 15.0
    statement_timeout_s: float = 120.0
    application_name: str = ACTION_APP_NAME
    stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """SnapshotCancelled once `stop` is set."""
        if self.stop.is_set():
            raise SnapshotCancelled("cancelled: asked to give target-db up")


def dump(
    ctx: ActionContext, out: Path, limits: DumpLimits
) -> tuple[dict[str, int], dict[str, int], str | None]:
    """pg_dump under an exported snapshot, so the row counts and max ids are exactly the
    dump's; TargetLocked when a lock on shop outlasts `limits.lock_timeout_s`."""
    wait_ms = _ms(limits.lock_timeout_s)
    try:
        with admin_connection(ctx.target_db, application_name=limits.application_name) as conn:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = %s", (wait_ms,))
                cur.execute("SET statement_timeout = %s", (_ms(limits.statement_timeout_s),))
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
            snapshot_id = str(row[0]) if row else ""
            counts, ids, revision = row_counts(conn), max_ids(conn), alembic_revision(conn)
            limits.check()
            argv = [str(ctx.target_db.bindir / "pg_dump"), *client_args(ctx.target_db)]
            # The chaos role's own schema (the rows a fault keeps for its revert) is not the
            # app's data: a restore must neither bring back nor drop it.
            argv += [f"--exclude-schema={CHAOS_SCHEMA}", f"--lock-wait-timeout={wait_ms}"]
            argv += ["-Fc", f"--snapshot={snapshot_id}", "-f", str(out), APP_DB]
            result = run_client(
                argv,
                ledger=ctx.children_dir,
                application_name=limits.application_name,
                server_version=conn.server_version,
                cluster=ctx.target_db,
            )
            conn.rollback()
    except psycopg2.Error as exc:
        limits.check()
        if exc.pgcode == errorcodes.LOCK_NOT_AVAILABLE:
            raise _locked(ctx, limits) from None
        raise ActionFailed(f"target-db unavailable for a snapshot: {exc.pgerror or exc}") from None
    if result.returncode != 0:
        limits.check()
        # pg_dump applies --lock-wait-timeout as a statement timeout on its LOCK TABLEs.
        if "LOCK TABLE" in result.stderr and "statement timeout" in result.stderr:
            raise _locked(ctx, limits)
        raise ActionFailed(f"pg_dump failed: {result.stderr.strip()[-500:]}")
    return counts, ids, revision


def locks_on_shop(ctx: ActionContext) -> list[ExclusiveLock]:
    """The ACCESS EXCLUSIVE locks other sessions hold or await on shop's tables now."""
    with admin_connection(ctx.target_db) as conn:
        return exclusive_locks(conn)


def locked_message(locks: list[ExclusiveLock]) -> str:
    """`skipped: target-db locked by pid N (...)`."""
    holders = "; ".join(lock.describe() for lock in locks) or "a session that has gone since"
    return f"skipped: target-db locked by {holders}"


def _locked(ctx: ActionContext, limits: DumpLimits) -> TargetLocked:
    try:
        locks = locks_on_shop(ctx)
    except psycopg2.Error:
        locks = []
    message = f"{locked_message(locks)}; waited {limits.lock_timeout_s:g} s for it"
    return TargetLocked(message, locks=locks)


def _ms(seconds: float) -> str:
    """A Postgres timeout in milliseconds (never 0, which would mean no timeout at all)."""
    return str(max(1, round(seconds * 1000)))
