"""The user-outage arithmetic on recorded probe samples."""

from gameday.outage import Journey, measure, p99_ms

T0 = 1_000_000.0


def _run(pattern: str, *, every_s: float = 0.5, start: float = T0) -> list[Journey]:
    """Journeys from a pattern: `.` good, `x` failed, one every `every_s` from `start`."""
    return [
        Journey(started_at=start + i * every_s, latency_s=0.05, ok=c == ".")
        for i, c in enumerate(pattern)
    ]


def test_outage_runs_from_first_failure_to_the_start_of_the_clean_window() -> None:
    # 2 good, 6 failed (3 s), then good for 6 s.
    journeys = _run(".." + "x" * 6 + "." * 12)
    outage = measure(journeys, since=T0, until=T0 + 10, clean_window_s=5.0)
    assert outage.start_s == 1.0
    assert outage.end_s == 4.0
    assert outage.outage_s == 3.0
    assert outage.recovered and not outage.censored
    assert (outage.journeys, outage.failed_journeys) == (20, 6)


def test_a_short_clean_run_does_not_end_the_outage() -> None:
    # failed, 2 s good (shorter than the 5 s window), failed again, then clean for 5 s.
    journeys = _run("xx" + "...." + "xx" + "." * 11)
    outage = measure(journeys, since=T0, until=T0 + 9, clean_window_s=5.0)
    assert outage.start_s == 0.0
    assert outage.end_s == 4.0  # the start of the window that held, not of the first good run
    assert outage.failed_journeys == 4


def test_no_clean_window_before_the_end_is_censored_at_the_end() -> None:
    journeys = _run("." + "x" * 10 + "...")
    outage = measure(journeys, since=T0, until=T0 + 20, clean_window_s=5.0)
    assert not outage.recovered and outage.censored
    assert outage.end_s is None
    assert outage.outage_s == 19.5  # from the first failure (0.5 s) to the case's end


def test_no_failure_is_no_outage() -> None:
    outage = measure(_run("." * 30), since=T0, until=T0 + 15, clean_window_s=5.0)
    assert outage.start_s is None and outage.outage_s is None
    assert outage.recovered and outage.failed_journeys == 0


def test_journeys_before_the_injection_are_not_counted() -> None:
    journeys = _run("xxxx" + "." * 20, start=T0 - 2.0)
    outage = measure(journeys, since=T0, until=T0 + 10, clean_window_s=5.0)
    assert outage.start_s is None
    assert outage.journeys == 20


def test_p99_is_nearest_rank() -> None:
    assert p99_ms([]) is None
    assert p99_ms([0.001 * i for i in range(1, 101)]) == 99.0
    assert p99_ms([0.2, 0.1]) == 200.0


def test_users_hurt_again_later_add_an_episode() -> None:
    # hurt 1 s, clean 6 s (a window), hurt again 2 s, then clean for good
    journeys = _run("xx" + "." * 12 + "xxxx" + "." * 12)
    outage = measure(journeys, since=T0, until=T0 + 15, clean_window_s=5.0)
    assert outage.episodes == 2
    assert outage.outage_s == 1.0 + 2.0
    assert outage.start_s == 0.0 and outage.end_s == 9.0  # the last clean window's start
    assert outage.recovered


def test_a_second_episode_without_a_clean_window_is_censored() -> None:
    journeys = _run("xx" + "." * 12 + "xxxx")
    outage = measure(journeys, since=T0, until=T0 + 10, clean_window_s=5.0)
    assert outage.episodes == 2 and outage.censored and not outage.recovered
    assert outage.outage_s == 1.0 + (10.0 - 7.0)  # the first episode, then to the case's end
