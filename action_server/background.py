"""Scheduled work: verified snapshots on a schedule, and the known good env."""

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from action_server.config import Settings
from action_server.context import ActionContext
from action_server.known_good import record_if_ready
from action_server.locks import target_lock
from action_server.store import Store

log = logging.getLogger("action_server.background")
SCHEDULED = "scheduled"


def start_jobs(*, settings: Settings, ctx: ActionContext, store: Store) -> BackgroundScheduler:
    """Start the scheduler; a failing job is logged and tried again at its next tick."""
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(
        _known_good,
        "interval",
        seconds=settings.known_good_interval_s,
        args=[ctx],
        id="known-good",
        max_instances=1,
        coalesce=True,
    )
    if settings.snapshot_interval_s > 0:
        scheduler.add_job(
            _snapshot,
            "interval",
            seconds=settings.snapshot_interval_s,
            args=[ctx, store, settings.snapshot_keep],
            id="snapshot",
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    return scheduler


def _known_good(ctx: ActionContext) -> None:
    try:
        if record_if_ready(ctx):
            log.info("recorded the current target env as known good")
    except Exception:
        log.exception("known-good env check failed")


def _snapshot(ctx: ActionContext, store: Store, keep: int) -> None:
    from action_server.snapshot_store import prune, take_snapshot

    try:
        # Under target-db's lock, like any action on it: never in the middle of a restore.
        with target_lock(store=store, targets=("target-db",), wait_s=300):
            manifest = take_snapshot(ctx, label=SCHEDULED)
        log.info("scheduled snapshot %s written and verified", manifest.get("name"))
        for name in prune(ctx, label=SCHEDULED, keep=keep):
            log.info("pruned scheduled snapshot %s", name)
    except Exception:
        log.exception("scheduled snapshot failed")
