"""Scheduled work: verified snapshots on a schedule, and the known good env."""

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from action_server.config import Settings
from action_server.context import ActionContext
from action_server.known_good import record_if_ready
from action_server.snapshot_schedule import SnapshotJob
from action_server.store import Store

log = logging.getLogger("action_server.background")


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
        job = snapshot_job(settings=settings, ctx=ctx, store=store, scheduler=scheduler)
        scheduler.add_job(
            job.tick,
            "interval",
            seconds=settings.snapshot_interval_s,
            id="snapshot",
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    return scheduler


def snapshot_job(
    *, settings: Settings, ctx: ActionContext, store: Store, scheduler: BackgroundScheduler
) -> SnapshotJob:
    """The scheduled snapshot, its retries run by `scheduler` (job id `snapshot-retry`)."""
    job = SnapshotJob(
        ctx=ctx,
        store=store,
        keep=settings.snapshot_keep,
        lock_timeout_s=settings.snapshot_lock_timeout_s,
        statement_timeout_s=settings.snapshot_statement_timeout_s,
        retry_s=settings.snapshot_retry_s,
        retries=settings.snapshot_retries,
    )

    def retry_later(delay_s: float) -> None:
        scheduler.add_job(
            job.attempt,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay_s),
            id="snapshot-retry",
            replace_existing=True,
            misfire_grace_time=None,  # late is fine; never dropped
        )

    job.schedule_retry = retry_later
    return job


def _known_good(ctx: ActionContext) -> None:
    try:
        if record_if_ready(ctx):
            log.info("recorded the current target env as known good")
    except Exception:
        log.exception("known-good env check failed")
