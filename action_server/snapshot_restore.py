"""Restoring `shop` from a snapshot in one transaction, then checking its row counts."""

from typing import Any

import psycopg2
from psycopg2.extensions import connection as PgConnection

from action_server.context import ActionContext, ActionFailed
from action_server.db_admin import (
    LOCK_TIMEOUT,
    admin_connection,
    client_args,
    counts_upto,
    row_counts,
    run_client,
    target_sessions,
    terminate,
)
from action_server.snapshot_store import dump_path
from lab.chaos_role import CHAOS_SCHEMA
from lab.services import APP_DB


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> dict[str, Any]:
    """Tables whose count differs from the manifest's: {table: {"expected", "actual"}}."""
    return {
        table: {"expected": want, "actual": actual.get(table)}
        for table, want in expected.items()
        if actual.get(table) != want
    }


def restored_differences(ctx: ActionContext, manifest: dict[str, Any]) -> dict[str, Any]:
    """Tables whose rows from the snapshot are not all back (count_differences' shape).

    The app reconnects as soon as a restore commits and may write before this check (the
    synthetic transaction's orders, say): rows past the snapshot's max ids are left out of
    the count. A manifest without max ids (older snapshots) is compared on whole tables.
    """
    with admin_connection(ctx.target_db) as conn:
        return _differences(conn, manifest, row_counts(conn))


def _differences(
    conn: PgConnection, manifest: dict[str, Any], current: dict[str, int]
) -> dict[str, Any]:
    upto = counts_upto(conn, dict(manifest.get("max_ids") or {}), set(current))
    return count_differences(manifest["row_counts"], {**current, **upto})


def restore_snapshot(
    ctx: ActionContext, *, manifest: dict[str, Any], undo: dict[str, Any] | None
) -> dict[str, Any]:
    """Replace `shop` with the snapshot and verify its row counts; return what happened.

    Raises ActionFailed: with no undo when pg_restore failed (its single transaction rolled
    back, so nothing changed), with `undo` when the restore committed but counts differ.
    """
    name = str(manifest["name"])
    try:
        with admin_connection(ctx.target_db) as conn:
            # The app's sessions hold locks on the tables the restore drops; its pool reconnects.
            terminated = terminate(conn, target_sessions(conn))
            version = conn.server_version
    except psycopg2.Error as exc:
        raise ActionFailed(f"target-db unavailable for a restore: {exc.pgerror or exc}") from None
    argv = [str(ctx.target_db.bindir / "pg_restore"), *client_args(ctx.target_db)]
    argv += ["--clean", "--if-exists", "--single-transaction", "--exit-on-error"]
    argv += [f"--exclude-schema={CHAOS_SCHEMA}"]  # snapshots taken before it was left out
    argv += ["-d", APP_DB, str(dump_path(ctx, name))]
    result = run_client(
        argv,
        ledger=ctx.children_dir,
        lock_timeout=LOCK_TIMEOUT,
        server_version=version,
        cluster=ctx.target_db,
    )
    if result.returncode != 0:
        raise ActionFailed(
            f"pg_restore of {name} failed and was rolled back, shop is unchanged: "
            f"{result.stderr.strip()[-500:]}"
        )
    with admin_connection(ctx.target_db) as conn:
        after = row_counts(conn)
        differences = _differences(conn, manifest, after)
    if differences:
        raise ActionFailed(
            f"restored {name} but row counts differ from its manifest: {differences}", undo=undo
        )
    return {
        "snapshot": name,
        "terminated_app_sessions": len(terminated),
        "row_counts": after,
        "alembic_revision": manifest.get("alembic_revision"),
    }
