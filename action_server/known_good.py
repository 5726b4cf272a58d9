"""The last env under which the target was ready: what rollback-config goes back to."""

import time
from pathlib import Path

from action_server.context import ActionContext
from action_server.readiness import target_ready_now
from lab.envfile import read_env
from lab.files import write_atomic


def known_good_path(ctx: ActionContext) -> Path:
    return ctx.paths.env / "known-good" / ctx.paths.target_env.name


def record_if_ready(ctx: ActionContext) -> bool:
    """Copy the current env to known-good when the target is ready under it; True if copied.

    "Under it" matters: a file edited after the target started has not been loaded yet, so
    the target's readiness says nothing about it.
    """
    current = ctx.paths.target_env
    if not current.exists():
        return False
    text = current.read_text()
    target = known_good_path(ctx)
    if target.exists() and target.read_text() == text:
        return False  # already recorded: no status call, no probe of the target
    status = ctx.runtime.status("target")
    if status.health == "stopped" or status.uptime_s is None:
        return False
    loaded_at = time.time() - status.uptime_s
    if current.stat().st_mtime >= loaded_at:
        return False
    # Ready is the target's own /ready, now: a backend's health can lag by a check interval
    # (Docker's healthcheck, every 5 s), and short ready spells between faults went unseen,
    # so rollback-config went back to an env older than the last password rotation.
    if not target_ready_now(ctx) or current.read_text() != text:
        return False
    write_atomic(target, text, mode=0o600)
    return True


def known_good(ctx: ActionContext) -> dict[str, str] | None:
    """The last known good env, if one was recorded."""
    path = known_good_path(ctx)
    return read_env(path) if path.exists() else None
