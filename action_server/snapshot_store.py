"""Snapshots of the target database on disk: pg_dump custom format plus a JSON manifest."""

import hashlib
import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

from action_server.context import ActionContext, ActionFailed, PreconditionFailed
from action_server.db_admin import (
    CLIENT_TIMEOUT_S,
    admin_connection,
    alembic_revision,
    client_args,
    client_env,
    max_ids,
    row_counts,
)
from lab.chaos_role import CHAOS_SCHEMA
from lab.services import APP_DB

LABEL_PATTERN = r"^[a-z0-9][a-z0-9-]{0,40}$"
NAME_RE = re.compile(r"^\d{8}T\d{9}Z-[a-z0-9][a-z0-9-]{0,40}$")
PRE_RESTORE_LABEL = "pre-restore"


def take_snapshot(ctx: ActionContext, *, label: str) -> dict[str, Any]:
    """Dump `shop` into a new verified snapshot and return its manifest."""
    if re.fullmatch(LABEL_PATTERN, label) is None:
        raise PreconditionFailed(f"snapshot label must match {LABEL_PATTERN}")
    folder = ctx.snapshots_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = _new_name(folder, label)
    dump, tmp = folder / f"{name}.dump", folder / f".{name}.dump.tmp"
    try:
        counts, ids, revision = _dump(ctx, tmp)
        digest = _sha256(tmp)
        _fsync(tmp)
        os.replace(tmp, dump)
        if _sha256(dump) != digest or not _lists_ok(ctx, dump):
            raise ActionFailed(f"snapshot {name} failed verification after writing; removed")
        manifest = {
            "name": name,
            "label": label,
            "created_at": datetime.now(UTC).isoformat(),
            "size_bytes": dump.stat().st_size,
            "sha256": digest,
            "row_counts": counts,
            "max_ids": ids,  # rows a restore must bring back are those with id <= these
            "alembic_revision": revision,
            "verified": True,
        }
        _write_json(folder / f"{name}.json", manifest)
    except BaseException:
        for path in (tmp, dump, folder / f"{name}.json"):
            path.unlink(missing_ok=True)
        raise
    return manifest


def list_snapshots(ctx: ActionContext) -> list[dict[str, Any]]:
    """Every snapshot's manifest (those whose dump is present), newest first."""
    found: list[dict[str, Any]] = []
    if not ctx.snapshots_dir.is_dir():
        return found
    for path in ctx.snapshots_dir.glob("*.json"):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        name = manifest.get("name") if isinstance(manifest, dict) else None
        if name == path.stem and NAME_RE.fullmatch(name) and dump_path(ctx, name).is_file():
            found.append(manifest)
    return sorted(found, key=lambda m: (str(m.get("created_at", "")), m["name"]), reverse=True)


def prune(ctx: ActionContext, *, label: str, keep: int) -> list[str]:
    """Delete the oldest snapshots carrying `label` beyond the newest `keep`; their names."""
    doomed = [m["name"] for m in list_snapshots(ctx) if m.get("label") == label][keep:]
    for name in doomed:
        dump_path(ctx, name).unlink(missing_ok=True)
        (ctx.snapshots_dir / f"{name}.json").unlink(missing_ok=True)
    return doomed


def dump_path(ctx: ActionContext, name: str) -> Path:
    """Where the dump of snapshot `name` lives."""
    return ctx.snapshots_dir / f"{name}.dump"


def resolve(ctx: ActionContext, name: str | None) -> dict[str, Any]:
    """The manifest of a named (or the latest non-pre-restore) verified, intact snapshot."""
    if name is None:
        candidates = [
            m
            for m in list_snapshots(ctx)
            if m.get("verified") is True and m.get("label") != PRE_RESTORE_LABEL
        ]
        if not candidates:
            raise PreconditionFailed(f"no verified snapshot in {ctx.snapshots_dir}")
        name = str(candidates[0]["name"])
    elif NAME_RE.fullmatch(name) is None:
        raise PreconditionFailed("snapshot name is not a valid snapshot name (see snapshot-db)")
    folder = ctx.snapshots_dir.resolve()
    raw = dump_path(ctx, name)
    path = raw.resolve()
    if path.parent != folder or raw.is_symlink() or not path.is_file():
        raise PreconditionFailed(f"snapshot {name} does not exist in {folder}")
    manifest = next((m for m in list_snapshots(ctx) if m["name"] == name), None)
    if manifest is None or manifest.get("verified") is not True:
        raise PreconditionFailed(f"snapshot {name} has no verified manifest")
    if _sha256(path) != manifest.get("sha256"):
        raise PreconditionFailed(f"snapshot {name} fails its checksum: the dump changed on disk")
    return dict(manifest)


def _new_name(folder: Path, label: str) -> str:
    while True:
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{label}"
        if not (folder / f"{name}.json").exists() and not (folder / f"{name}.dump").exists():
            return name


def _dump(ctx: ActionContext, out: Path) -> tuple[dict[str, int], dict[str, int], str | None]:
    """pg_dump under an exported snapshot, so the row counts and max ids are exactly the
    dump's."""
    try:
        with admin_connection(ctx.target_db) as conn:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
            snapshot_id = str(row[0]) if row else ""
            counts, ids, revision = row_counts(conn), max_ids(conn), alembic_revision(conn)
            argv = [str(ctx.target_db.bindir / "pg_dump"), *client_args(ctx.target_db)]
            # The chaos role's own schema (the rows a fault keeps for its revert) is not the
            # app's data: a restore must neither bring back nor drop it.
            argv += [f"--exclude-schema={CHAOS_SCHEMA}"]
            argv += ["-Fc", f"--snapshot={snapshot_id}", "-f", str(out), APP_DB]
            result = run_client(argv)
            conn.rollback()
    except psycopg2.Error as exc:
        raise ActionFailed(f"target-db unavailable for a snapshot: {exc.pgerror or exc}") from None
    if result.returncode != 0:
        raise ActionFailed(f"pg_dump failed: {result.stderr.strip()[-500:]}")
    return counts, ids, revision


def _lists_ok(ctx: ActionContext, dump: Path) -> bool:
    argv = [str(ctx.target_db.bindir / "pg_restore"), "--list", str(dump)]
    return run_client(argv).returncode == 0


def run_client(
    argv: list[str], *, lock_timeout: str | None = None
) -> "subprocess.CompletedProcess[str]":
    """Run a Postgres client tool as the action server (our app name, bounded time)."""
    return subprocess.run(
        argv,
        env=client_env(lock_timeout=lock_timeout),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
