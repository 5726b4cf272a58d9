"""snapshot-db and restore-db: verified pg_dump snapshots of `shop`, and restoring one."""

import shutil
from typing import Any

import psycopg2
from pydantic import BaseModel, ConfigDict, Field

from action_server.catalogue import ActionSpec, Risk
from action_server.context import ActionContext, Outcome, Plan, PreconditionFailed
from action_server.db_admin import admin_connection, alembic_revision, database_size, row_counts
from action_server.snapshot_restore import restore_snapshot
from action_server.snapshot_store import (
    LABEL_PATTERN,
    PRE_RESTORE_LABEL,
    list_snapshots,
    resolve,
    take_snapshot,
)

__all__ = ["RESTORE_DB", "SNAPSHOT_DB", "list_snapshots", "take_snapshot"]


class SnapshotParams(BaseModel):
    """Parameters of snapshot-db."""

    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(None, pattern=LABEL_PATTERN, description="name suffix")


class RestoreParams(BaseModel):
    """Parameters of restore-db."""

    model_config = ConfigDict(extra="forbid")
    snapshot: str | None = Field(
        None, max_length=80, description="snapshot name; default: latest verified snapshot"
    )


def _db_state(ctx: ActionContext) -> tuple[dict[str, int], str | None, int]:
    """Current row counts, Alembic revision and size of `shop`; PreconditionFailed if down."""
    try:
        with admin_connection(ctx.target_db) as conn:
            return row_counts(conn), alembic_revision(conn), database_size(conn)
    except psycopg2.Error as exc:
        raise PreconditionFailed(f"target-db is not reachable: {exc.pgerror or exc}") from None


def _check_space(ctx: ActionContext, size: int) -> None:
    ctx.snapshots_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    free = shutil.disk_usage(ctx.snapshots_dir).free
    if free < size:
        raise PreconditionFailed(f"{ctx.snapshots_dir} has {free} bytes free, shop is {size}")


def plan_snapshot(ctx: ActionContext, params: SnapshotParams) -> Plan:
    """What snapshot-db would write."""
    counts, revision, size = _db_state(ctx)
    _check_space(ctx, size)
    label = params.label or "manual"
    return Plan(
        summary=f"dump shop ({len(counts)} tables) into a new snapshot labelled {label!r}",
        changes=[f"write {ctx.snapshots_dir}/<UTC time>-{label}.dump and .json, then verify"],
        details={"label": label, "row_counts": counts, "alembic_revision": revision},
    )


def execute_snapshot(ctx: ActionContext, params: SnapshotParams) -> Outcome:
    """Take and verify a snapshot now."""
    manifest = take_snapshot(ctx, label=params.label or "manual")
    return Outcome(summary=f"snapshot {manifest['name']} written and verified", details=manifest)


def plan_restore(ctx: ActionContext, params: RestoreParams) -> Plan:
    """Which snapshot restore-db would restore, and how its row counts compare with now."""
    manifest = resolve(ctx, params.snapshot)
    counts, revision, size = _db_state(ctx)
    _check_space(ctx, size)
    tables = sorted(set(manifest["row_counts"]) | set(counts))
    comparison = {
        t: {"snapshot": manifest["row_counts"].get(t), "current": counts.get(t)} for t in tables
    }
    name = manifest["name"]
    return Plan(
        summary=f"restore shop from snapshot {name}",
        changes=[
            f"take a '{PRE_RESTORE_LABEL}' snapshot of shop as it is now (the undo)",
            "terminate the target app's sessions on shop",
            f"replace shop's contents with snapshot {name} in one transaction",
        ],
        details={
            "snapshot": name,
            "created_at": manifest.get("created_at"),
            "alembic_revision": {"snapshot": manifest.get("alembic_revision"), "current": revision},
            "row_counts": comparison,
        },
    )


def execute_restore(ctx: ActionContext, params: RestoreParams) -> Outcome:
    """Snapshot the present state, restore the chosen snapshot, verify its row counts."""
    manifest = resolve(ctx, params.snapshot)
    pre = take_snapshot(ctx, label=PRE_RESTORE_LABEL)
    undo = {"snapshot": pre["name"]}
    details = restore_snapshot(ctx, manifest=manifest, undo=undo)
    details["pre_restore_snapshot"] = pre["name"]
    return Outcome(summary=f"restored shop from {manifest['name']}", details=details, undo=undo)


def revert_restore(ctx: ActionContext, undo: dict[str, Any]) -> Outcome:
    """Restore the pre-restore snapshot a restore-db run recorded."""
    name = undo.get("snapshot")
    if not isinstance(name, str):
        raise PreconditionFailed("undo data names no pre-restore snapshot")
    details = restore_snapshot(ctx, manifest=resolve(ctx, name), undo=None)
    return Outcome(summary=f"restored shop from pre-restore snapshot {name}", details=details)


SNAPSHOT_DB = ActionSpec(
    name="snapshot-db",
    summary="Dump the target database into a verified snapshot with a manifest.",
    params=SnapshotParams,
    risk=Risk.low,
    idempotent=False,
    target="target-db",
    plan=plan_snapshot,
    execute=execute_snapshot,
    durable=False,
    backends=("local", "docker"),
)

RESTORE_DB = ActionSpec(
    name="restore-db",
    summary="Restore the target database from the latest verified (or a named) snapshot.",
    params=RestoreParams,
    risk=Risk.high,
    idempotent=False,
    target="target-db",
    plan=plan_restore,
    execute=execute_restore,
    revert=revert_restore,
    undo_summary="restore the snapshot taken just before the restore",
    also_locks=("target",),
    backends=("local", "docker"),
)
