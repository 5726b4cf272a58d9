"""Snapshots of the target database on disk: pg_dump custom format plus a JSON manifest."""

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from action_server.context import ActionContext, ActionFailed, PreconditionFailed
from action_server.db_admin import run_client
from action_server.snapshot_dump import DumpLimits, dump

LABEL_PATTERN = r"^[a-z0-9][a-z0-9-]{0,40}$"
NAME_RE = re.compile(r"^\d{8}T\d{9}Z-[a-z0-9][a-z0-9-]{0,40}$")
PRE_RESTORE_LABEL = "pre-restore"


def take_snapshot(
    ctx: ActionContext, *, label: str, limits: DumpLimits | None = None
) -> dict[str, Any]:
    """Dump `shop` into a new verified snapshot and return its manifest; on any failure
    (a lock timeout, a stop) nothing of it is left on disk."""
    limits = limits or DumpLimits()
    if re.fullmatch(LABEL_PATTERN, label) is None:
        raise PreconditionFailed(f"snapshot label must match {LABEL_PATTERN}")
    folder = ctx.snapshots_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = _new_name(folder, label)
    dump_file, tmp = folder / f"{name}.dump", folder / f".{name}.dump.tmp"
    try:
        counts, ids, revision = dump(ctx, tmp, limits)
        digest = _sha256(tmp)
        _fsync(tmp)
        limits.check()
        os.replace(tmp, dump_file)
        if _sha256(dump_file) != digest or not _lists_ok(ctx, dump_file):
            raise ActionFailed(f"snapshot {name} failed verification after writing; removed")
        manifest = {
            "name": name,
            "label": label,
            "created_at": datetime.now(UTC).isoformat(),
            "size_bytes": dump_file.stat().st_size,
            "sha256": digest,
            "row_counts": counts,
            "max_ids": ids,  # rows a restore must bring back are those with id <= these
            "alembic_revision": revision,
            "verified": True,
        }
        limits.check()
        _write_json(folder / f"{name}.json", manifest)
    except BaseException:
        for path in (tmp, dump_file, folder / f"{name}.json"):
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


def _lists_ok(ctx: ActionContext, dump: Path) -> bool:
    argv = [str(ctx.target_db.bindir / "pg_restore"), "--list", str(dump)]
    return run_client(argv, ledger=ctx.children_dir).returncode == 0


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
