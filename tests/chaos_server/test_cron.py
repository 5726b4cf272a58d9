"""Cron schedules fire on the days cron(5) names, whatever APScheduler's own numbering.

croniter is not installed here, so the expected dates are written out from the crontab(5)
rules: day of week 0-7 with 0 and 7 Sunday, names sun-sat, ranges, lists and steps; a
restricted day of month and day of week fire on a date that matches either.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from chaos_server.scenarios.cron import parse_cron

# Saturday 2026-12-05 04:00 UTC: the week after holds each weekday once at 03:00, Sunday
# the 6th to Saturday the 12th, so a day of the month names its weekday.
START = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
SUN, MON, TUE, WED, THU, FRI, SAT = range(6, 13)


def _fires(expression: str, count: int) -> list[datetime]:
    """The first `count` fire times after START."""
    trigger, moment, fired = parse_cron(expression), START, []
    for _ in range(count):
        moment = trigger.get_next_fire_time(None, moment)
        fired.append(moment)
        moment += timedelta(seconds=1)
    return fired


def _fire_dates(expression: str, count: int) -> list[date]:
    return [moment.date() for moment in _fires(expression, count)]


def _week(dow: str) -> list[int]:
    """The days of the month on which `0 3 * * <dow>` fires in the week after START."""
    end = START + timedelta(days=7)
    return [moment.day for moment in _fires(f"0 3 * * {dow}", 8) if moment < end]


@pytest.mark.parametrize(
    ("dow", "days"),
    [
        # numbers: Sunday is 0 and 7
        ("1-5", [MON, TUE, WED, THU, FRI]),
        ("0", [SUN]),
        ("7", [SUN]),
        ("6,0", [SUN, SAT]),
        ("6,7", [SUN, SAT]),
        ("1", [MON]),
        ("*/2", [SUN, TUE, THU, SAT]),
        ("*/3", [SUN, WED, SAT]),
        ("1-5/2", [MON, WED, FRI]),
        ("2-7/2", [TUE, THU, SAT]),
        ("1-7/2", [SUN, MON, WED, FRI]),
        ("5-7", [SUN, FRI, SAT]),
        ("0-7", [SUN, MON, TUE, WED, THU, FRI, SAT]),
        # names
        ("mon-fri", [MON, TUE, WED, THU, FRI]),
        ("sun", [SUN]),
        ("SAT,sun", [SUN, SAT]),
        ("sat-sun", [SUN, SAT]),
        ("tue-thu", [TUE, WED, THU]),
        ("mon-fri/2", [MON, WED, FRI]),
        ("*", [SUN, MON, TUE, WED, THU, FRI, SAT]),
        # names and numbers mixed
        ("mon-5", [MON, TUE, WED, THU, FRI]),
        ("sun-3", [SUN, MON, TUE, WED]),
        ("1,wed,5", [MON, WED, FRI]),
        ("tue-6/2", [TUE, THU, SAT]),
        ("fri-7", [SUN, FRI, SAT]),
    ],
)
def test_day_of_week_fires_on_the_days_cron_names(dow: str, days: list[int]) -> None:
    assert _week(dow) == days


def test_workdays_from_sunday_start_on_monday() -> None:
    trigger = parse_cron("30 9 * * 1-5")
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, sunday)
    assert first == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert parse_cron("0 0 9 * * 1").get_next_fire_time(None, sunday) == datetime(
        2026, 12, 7, 9, 0, tzinfo=UTC
    )  # six fields, seconds first


def test_day_of_month_and_day_of_week_both_restricted_fire_on_either() -> None:
    assert _fire_dates("0 3 13 * 1", 4) == [
        date(2026, 12, 7),  # a Monday
        date(2026, 12, 13),  # the 13th, a Sunday
        date(2026, 12, 14),
        date(2026, 12, 21),
    ]


def test_a_day_field_starting_with_a_star_leaves_the_days_to_the_other() -> None:
    # */2 is restricted but starts with *: cron then fires on Mondays that are odd days.
    assert _fire_dates("0 3 */2 * mon", 3) == [
        date(2026, 12, 7),
        date(2026, 12, 21),
        date(2027, 1, 11),
    ]
    assert _fire_dates("0 3 13 * *", 2) == [date(2026, 12, 13), date(2027, 1, 13)]


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("0 3 * * 8", "day of week field '8'"),
        ("0 3 * * funday", "day of week field 'funday'"),
        ("0 3 * * monday", "day of week field 'monday'"),
        ("0 3 * * 5-1", "day of week field '5-1'"),
        ("0 3 * * fri-mon", "day of week field 'fri-mon'"),
        ("0 3 * * 1/2", "day of week field '1/2'"),
        ("0 3 * * 1-5/0", "day of week field '1-5/0'"),
        ("0 3 * * */x", "day of week field '*/x'"),
        ("0 3 * * 1,,2", "day of week field '1,,2'"),
        ("0 3 * * -1", "day of week field '-1'"),
        ("61 * * * *", "minute field '61'"),
        ("0 24 * * *", "hour field '24'"),
        ("0 0 32 * *", "day of month field '32'"),
        ("0 0 * 13 *", "month field '13'"),
        ("60 0 0 * * *", "second field '60'"),
    ],
)
def test_invalid_fields_are_refused_by_name(expression: str, field: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(f"cron {expression!r}: {field}: ")):
        parse_cron(expression)
