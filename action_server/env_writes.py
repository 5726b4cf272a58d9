"""Changing the target's env file: atomically, previous version kept, then restart and verify."""

from pathlib import Path

from action_server.context import ActionContext, ActionFailed
from action_server.readiness import wait_target_ready
from lab.envfile import read_env, write_env


def versions_dir(ctx: ActionContext) -> Path:
    return ctx.paths.env / "versions"


def latest_version(ctx: ActionContext) -> Path | None:
    """The env file version written most recently (the one the last change replaced)."""
    directory = versions_dir(ctx)
    found = sorted(directory.glob(f"{ctx.paths.target_env.name}.*")) if directory.exists() else []
    return found[-1] if found else None


def changed_keys(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Names (never values) of keys that differ."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def apply_and_restart(ctx: ActionContext, values: dict[str, str]) -> tuple[str, float]:
    """Write the env (keeping the old one), restart the target, wait for /ready.

    Returns the path of the replaced version and the seconds until ready; ActionFailed (with
    that version as undo data) when the target does not become ready.
    """
    write_env(ctx.paths.target_env, values)
    replaced = latest_version(ctx)
    assert replaced is not None
    ctx.runtime.restart("target")
    took = wait_target_ready(ctx)
    if took is None:
        raise ActionFailed("target not ready after the env change", undo={"version": str(replaced)})
    return str(replaced), took


def restore_version(ctx: ActionContext, version: str) -> float:
    """Put an earlier env version back, restart, wait; ActionFailed if still not ready."""
    path = Path(version)
    if path.parent.resolve() != versions_dir(ctx).resolve() or not path.is_file():
        raise ActionFailed(f"env version {path.name} not found among the kept versions")
    write_env(ctx.paths.target_env, read_env(path))
    ctx.runtime.restart("target")
    took = wait_target_ready(ctx)
    if took is None:
        raise ActionFailed(f"target not ready after restoring env version {path.name}")
    return took
