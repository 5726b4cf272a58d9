"""Cron expressions for scenario schedules: standard 5 fields, or 6 with seconds first.

APScheduler reads two things differently from cron(5), so both are translated here: its
numeric day of week starts at Monday = 0 (cron: Sunday = 0, and 7 too), and it wants a date
to match a restricted day of month AND a restricted day of week (cron: either).
"""

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_LABELS = {"day": "day of month", "day_of_week": "day of week"}  # the rest named alike
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering, from 0


def _weekday(token: str) -> int:
    """A cron weekday: 0-7 (0 and 7 are Sunday) or a three-letter name."""
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    if token.lower() in _DAYS:
        return _DAYS.index(token.lower())
    raise ValueError(f"{token!r} is not a weekday (0-7, 0 and 7 are Sunday, or sun-sat)")


def _day_of_week(field: str) -> str:
    """A cron day-of-week field as the list of day names APScheduler reads one way only."""
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step = part.partition("/")
        if slash and not (step.isascii() and step.isdigit() and int(step) > 0):
            raise ValueError(f"step {step!r} is not a whole number above 0")
        if span == "*":
            first, last = 0, 7
        elif "-" in span:
            low, _, high = span.partition("-")
            first, last = _weekday(low), _weekday(high)
            if last == 0 < first:  # `sat-sun`: a range can only end on Sunday as 7
                last = 7
            if first > last:
                raise ValueError(f"{span!r} runs backwards")
        elif slash:
            raise ValueError(f"a step goes after * or a range, as in 1-5/2, not {part!r}")
        else:
            first = last = _weekday(span)
        days.update(day % 7 for day in range(first, last + 1, int(step or 1)))
    if len(days) == len(_DAYS):
        return "*"
    return ",".join(_DAYS[day] for day in sorted(days))


def parse_cron(expression: str, timezone: str = "UTC") -> BaseTrigger:
    """An APScheduler trigger that fires as cron would, or ValueError naming the bad field."""
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise ValueError(
            f"cron {expression!r}: 5 fields (or 6 with seconds first), not {len(parts)}"
        )
    given = dict(zip(("second", *_FIELDS) if len(parts) == 6 else _FIELDS, parts, strict=True))
    fields = dict(given)
    for name, value in given.items():
        try:
            if name == "day_of_week":
                fields[name] = _day_of_week(value)
            CronTrigger(timezone=timezone, **{name: fields[name]})  # this field alone
        except ValueError as exc:
            label = _LABELS.get(name, name)
            raise ValueError(f"cron {expression!r}: {label} field {value!r}: {exc}") from None
    # As cron: a field that starts with * leaves the days to the other one; two restricted
    # fields fire on a date that matches either.
    if not given["day"].startswith("*") and not given["day_of_week"].startswith("*"):
        by_date = CronTrigger(timezone=timezone, **{**fields, "day_of_week": "*"})
        by_weekday = CronTrigger(timezone=timezone, **{**fields, "day": "*"})
        return OrTrigger([by_date, by_weekday])
    return CronTrigger(timezone=timezone, **fields)
