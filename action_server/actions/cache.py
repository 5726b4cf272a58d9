"""clear-cache: empty the target's cache directory, and nothing outside it."""

import os
import shutil
from pathlib import Path

from action_server.catalogue import ActionSpec, NoParams, Risk
from action_server.context import ActionContext, ActionFailed, Outcome, Plan, PreconditionFailed


def _cache_dir(ctx: ActionContext) -> Path:
    """The lab's cache dir for the target, and only that: the env file is not trusted for it
    (a drifted TARGET_CACHE_DIR could name the Postgres data or the secrets)."""
    path = ctx.paths.target_cache
    named = ctx.target_env().get("TARGET_CACHE_DIR")
    if named is None or Path(named) != path:
        raise PreconditionFailed(
            f"the target's TARGET_CACHE_DIR is {named!r}, not the lab's cache dir {path}; "
            "refusing to clear anything else (rollback-config first)"
        )
    if path.resolve() != path:  # the state dir is resolved: any difference is a link
        raise PreconditionFailed(f"{path} goes through a symlink; refusing to clear through it")
    if not path.is_dir():
        raise PreconditionFailed(f"{path} is not a directory")
    return path


def _entries(path: Path) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return list(it)


def _size(entry: os.DirEntry[str]) -> int:
    try:
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            return 0
        return entry.stat(follow_symlinks=False).st_size
    except FileNotFoundError:  # the target writes and removes probe files as it runs
        return 0


def plan(ctx: ActionContext, params: NoParams) -> Plan:
    """List what would be removed."""
    path = _cache_dir(ctx)
    entries = _entries(path)
    total = sum(_size(e) for e in entries)
    return Plan(
        summary=f"remove {len(entries)} entries ({total} bytes) from {path}",
        changes=[f"delete {path / e.name}" for e in entries[:50]],
        details={"cache_dir": str(path), "entries": len(entries), "bytes": total},
    )


def execute(ctx: ActionContext, params: NoParams) -> Outcome:
    """Remove every entry; links are removed as links, never followed."""
    path = _cache_dir(ctx)
    removed = freed = 0
    for entry in _entries(path):
        freed += _size(entry)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # gone already (the target's own temp files)
            continue
        removed += 1
    left = [e for e in _entries(path) if not e.name.startswith(".")]
    if left:
        raise ActionFailed(f"{len(left)} entries still in {path} after clearing")
    probe = path / ".clear-cache-probe"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise ActionFailed(f"{path} is empty but not writable: {exc.strerror}") from None
    return Outcome(
        summary=f"removed {removed} entries ({freed} bytes) from {path}",
        details={"removed": removed, "bytes_freed": freed, "cache_dir": str(path)},
    )


CLEAR_CACHE = ActionSpec(
    name="clear-cache",
    summary="Empty the target's cache directory (only that directory).",
    params=NoParams,
    risk=Risk.low,
    idempotent=True,
    target="target",
    plan=plan,
    execute=execute,
    durable=False,
    backends=("local", "docker"),
)
