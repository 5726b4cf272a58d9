"""Stop conditions judged from a fake probe feed, the watcher thread, and the first look."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chaos_server.scenarios.model import StopConditions
from chaos_server.scenarios.probe import ProbeResult
from chaos_server.stop_conditions import Round, StopWatch, Trip, Watcher, preflight
from tests.support.ports import free_port

URL = "http://127.0.0.1:1/products"


def _conditions(**values: Any) -> StopConditions:
    return StopConditions.model_validate({"interval_s": 0.2, "window_s": 3, **values})


def _probe(ok: bool = True, latency_ms: float = 20.0, answered: bool = True) -> ProbeResult:
    status = (200 if ok else 500) if answered else None
    return ProbeResult(URL, ok, status, latency_ms, "seen")


def _round(at: float, *probes: ProbeResult, unhealthy: dict[str, str] | None = None) -> Round:
    return Round(at, probes or (_probe(),), unhealthy or {})


def _feed(watch: StopWatch, rounds: list[Round]) -> list[Trip | None]:
    return [watch.observe(seen) for seen in rounds]


def test_error_ratio_trips_above_the_bound_once_there_are_enough_samples() -> None:
    watch = StopWatch(_conditions(error_ratio=0.5, min_samples=3))
    verdicts = _feed(watch, [_round(0.0, _probe(False)), _round(0.5, _probe(False))])
    assert verdicts == [None, None]  # two samples: not enough to judge
    trip = watch.observe(_round(1.0, _probe(False)))
    assert trip is not None and trip.condition == "error_ratio"
    assert "3/3 journey probes failed in the last 3s (1.00 > 0.5)" in trip.detail


def test_error_ratio_at_the_bound_holds_and_old_failures_leave_the_window() -> None:
    watch = StopWatch(_conditions(error_ratio=0.5, min_samples=2))
    assert _feed(watch, [_round(0.0, _probe(False)), _round(1.0)]) == [None, None]  # 0.5
    # At 4.0 the rounds at 0.0 and 1.0 are out of the 3 s window: 1 failure of 2, not over.
    assert _feed(watch, [_round(2.0), _round(4.0, _probe(False))]) == [None, None]


@pytest.mark.parametrize(("stat", "trips"), [("p95", False), ("max", True)])
def test_latency_bound_over_the_window(stat: str, trips: bool) -> None:
    watch = StopWatch(_conditions(latency_ms=1000, latency_stat=stat, min_samples=3))
    fast = [_round(i * 0.1, _probe(latency_ms=50)) for i in range(20)]
    verdicts = _feed(watch, [*fast, _round(2.5, _probe(latency_ms=4000))])
    tripped = verdicts[-1]
    assert (tripped is not None) is trips
    if tripped is not None:
        assert tripped.condition == "latency_ms" and "max 4000 ms over 1000 ms" in tripped.detail


def test_latency_counts_answers_only_a_probe_without_one_is_an_error() -> None:
    watch = StopWatch(_conditions(latency_ms=1000, min_samples=1))
    assert watch.observe(_round(0.0, _probe(False, latency_ms=5000, answered=False))) is None


def test_max_outage_needs_the_journey_failing_throughout() -> None:
    watch = StopWatch(_conditions(max_outage_s=2))
    down = [_round(0.0, _probe(False)), _round(1.0, _probe(False)), _round(1.5)]
    assert _feed(watch, down) == [None, None, None]  # an ok round ends the outage
    verdicts = _feed(watch, [_round(t, _probe(False)) for t in (2.0, 3.0, 4.0)])
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None and verdicts[2].condition == "max_outage_s"
    assert "failed for 2.0s (max 2s)" in verdicts[2].detail


def test_max_outage_counts_a_journey_with_any_failing_probe() -> None:
    watch = StopWatch(_conditions(max_outage_s=1))
    mixed = [_round(t, _probe(), _probe(False)) for t in (0.0, 0.5, 1.0)]
    assert _feed(watch, mixed)[-1] is not None


def test_an_unhealthy_service_trips_on_the_second_round_in_a_row() -> None:
    watch = StopWatch(_conditions(unhealthy_services="any_other"))
    blip = {"target-db": "refused"}
    assert _feed(watch, [_round(0.0, unhealthy=blip), _round(0.5)]) == [None, None]
    verdicts = _feed(watch, [_round(1.0, unhealthy=blip), _round(1.5, unhealthy=blip)])
    assert verdicts[0] is None
    assert verdicts[1] == Trip("unhealthy_services", "target-db: refused")


def test_reset_forgets_the_window_and_the_outage() -> None:
    watch = StopWatch(_conditions(error_ratio=0.5, min_samples=2, max_outage_s=1))
    watch.observe(_round(0.0, _probe(False)))
    watch.reset()
    assert watch.observe(_round(0.9, _probe(False))) is None
    assert watch.observe(_round(1.0)) is None


class _Feed:
    """A fake look: failing journeys, and the targets each look was asked to leave alone."""

    def __init__(self) -> None:
        self.asked: list[set[str]] = []
        self.at = 0.0

    def look(self, targets: set[str]) -> Round:
        self.asked.append(targets)
        self.at += 1.0
        return _round(self.at, _probe(False))


def test_watcher_trips_once_calls_back_and_stops() -> None:
    feed, trips = _Feed(), []
    halted = threading.Event()

    def on_trip(trip: Trip) -> None:
        trips.append(trip)
        halted.set()

    watcher = Watcher(
        _conditions(error_ratio=0.5, min_samples=2),
        look=feed.look,
        targets=lambda: {"target"},
        on_trip=on_trip,
    ).start()
    assert halted.wait(5)
    watcher.stop()
    assert [t.condition for t in trips] == ["error_ratio"] and not watcher.running
    assert watcher.tripped == trips[0] and feed.asked == [{"target"}, {"target"}]


def test_watcher_idles_while_nothing_is_open_and_may_end_then() -> None:
    feed, trips = _Feed(), []
    idle = Watcher(
        _conditions(error_ratio=0.5), look=feed.look, targets=lambda: None, on_trip=trips.append
    ).start()
    ending = Watcher(
        _conditions(error_ratio=0.5),
        look=feed.look,
        targets=lambda: None,
        on_trip=trips.append,
        ends_when_idle=True,
    ).start()
    deadline = time.monotonic() + 5
    while ending.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ending.running and idle.running and feed.asked == [] and trips == []
    idle.stop()
    assert not idle.running


@pytest.fixture
def listening() -> Iterator[int]:
    """A loopback port that accepts TCP connections."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_preflight_refuses_an_unreachable_journey_and_names_the_field(listening: int) -> None:
    closed = free_port()
    urls = {
        "target": f"http://127.0.0.1:{closed}",
        "target-db": f"postgresql://127.0.0.1:{listening}",
        "db-proxy": f"tcp://127.0.0.1:{closed}",
    }
    checked = preflight(_conditions(unhealthy_services="any_other"), urls)
    ((where, problem),) = checked.problems
    assert where == "stop_conditions.journey[0]" and "unreachable: ConnectError" in problem
    assert checked.watched == ("target-db",)  # any_other: those healthy at the start

    listed = preflight(_conditions(unhealthy_services=["target-db", "db-proxy", "ghost"]), urls)
    named = [(where, problem.split(":")[0]) for where, problem in listed.problems]
    assert named == [
        ("stop_conditions.journey[0]", "http"),
        ("stop_conditions.unhealthy_services", "db-proxy"),
        ("stop_conditions.unhealthy_services", "ghost"),
    ]


def test_preflight_refuses_a_journey_off_loopback_or_unknown() -> None:
    urls = {"target": "http://10.0.0.1:8000"}
    checked = preflight(_conditions(max_outage_s=5), urls)
    assert "not on loopback" in checked.problems[0][1]
    checked = preflight(_conditions(max_outage_s=5), {})
    assert "no HTTP service 'target'" in checked.problems[0][1]
