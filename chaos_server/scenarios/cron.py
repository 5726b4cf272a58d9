"""Cron expressions for scenario schedules: standard 5 fields, or 6 with seconds first."""

from apscheduler.triggers.cron import CronTrigger

_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """An APScheduler trigger, or ValueError saying which part is wrong."""
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise ValueError(
            f"cron {expression!r}: 5 fields (or 6 with seconds first), not {len(parts)}"
        )
    fields = dict(zip(("second", *_FIELDS) if len(parts) == 6 else _FIELDS, parts, strict=True))
    try:
        return CronTrigger(timezone=timezone, **fields)
    except ValueError as exc:
        raise ValueError(f"cron {expression!r}: {exc}") from None
