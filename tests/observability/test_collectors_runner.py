"""The runner: failures counted and reported, a hung collector never holds the others.

The collectors here are stand-ins written for the test (a source that answers, one that
raises, one that hangs until released): the runner's behaviour does not depend on where
the numbers come from. The live-lab test runs it over the real collectors.
"""

import threading
import time

import pytest

from observability.collectors.runner import Runner
from observability.model import Collection, Sample
from observability.store.ring import RingStore


class Steady:
    def __init__(self, name: str = "steady") -> None:
        self.name = name
        self.calls = 0

    def collect(self, now: float) -> Collection:
        self.calls += 1
        return Collection(samples=[Sample(now, "target", "probe_up", 1.0)])


class Broken:
    name = "broken"

    def collect(self, now: float) -> Collection:
        raise ConnectionError("postgresql://app:hunter2@127.0.0.1/shop refused")


class Hung:
    name = "hung"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    def collect(self, now: float) -> Collection:
        self.release.wait(60)
        self.finished.set()
        return Collection(samples=[Sample(now, "target", "late_metric", 7.0)])


def own(result: Collection, metric: str, collector: str) -> float:
    found = [
        s.value
        for s in result.samples
        if s.service == "observability" and s.metric == metric and s.label("collector") == collector
    ]
    assert len(found) == 1
    return found[0]


def test_a_raising_collector_is_counted_and_reported_while_others_produce() -> None:
    steady = Steady()
    runner = Runner([Broken(), steady], interval_s=1.0)
    for tick in range(3):
        result = runner.run_once(float(tick))
        assert [s.metric for s in result.samples if s.service == "target"] == ["probe_up"]
    assert own(result, "collector_up", "broken") == 0
    assert own(result, "collector_failures_total", "broken") == 3
    assert own(result, "collector_up", "steady") == 1
    assert own(result, "collector_failures_total", "steady") == 0
    broken = {s.name: s for s in runner.status()}["broken"]
    assert broken.failures == broken.consecutive_failures == 3 and not broken.up
    assert broken.last_error is not None and "ConnectionError" in broken.last_error
    assert "hunter2" not in broken.last_error  # errors are redacted before shown


def test_a_hung_collector_times_out_and_its_late_result_is_kept() -> None:
    hung, steady = Hung(), Steady()
    runner = Runner([hung, steady], interval_s=0.5, timeouts={"hung": 0.1})
    first = runner.run_once(1.0)
    # run_once came back while the hung collector was still inside collect().
    assert not hung.finished.is_set()
    assert [s.metric for s in first.samples if s.service == "target"] == ["probe_up"]
    assert own(first, "collector_up", "hung") == 0
    status = {s.name: s for s in runner.status()}["hung"]
    assert status.last_error is not None and "timed out" in status.last_error
    assert status.busy_since == 1.0

    second = runner.run_once(2.0)  # still hung: not started twice, counted again
    assert own(second, "collector_failures_total", "hung") == 2
    assert "still running" in (runner.status()[0].last_error or "")
    assert steady.calls == 2

    hung.release.set()
    assert hung.finished.wait(10)
    for thread in threading.enumerate():  # its result is set before its thread ends
        if thread.name == "collector-hung":
            thread.join(10)
    third = runner.run_once(3.0)
    late = [s for s in third.samples if s.metric == "late_metric"]
    assert late and late[0].ts == 1.0  # the late run's data, with its own timestamp
    assert own(third, "collector_up", "hung") == 1  # the fresh run answered at once


def test_a_failing_sink_does_not_stop_collection() -> None:
    def sink(_: Collection) -> None:
        raise RuntimeError("store is down")

    runner = Runner([Steady()], sink=sink)
    runner.run_once(1.0)
    runner.run_once(2.0)
    assert runner.sink_failures == 2


def test_the_loop_feeds_the_store_until_stopped() -> None:
    store = RingStore()
    runner = Runner([Steady(), Broken()], interval_s=0.05, sink=store.add)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while len(store.series("collector_up", labels={"collector": "broken"})) < 3:
            assert time.monotonic() < deadline, "the loop did not tick"
            time.sleep(0.02)
    finally:
        runner.stop()
    assert store.series("probe_up", service="target")
    failures = store.series("collector_failures_total", labels={"collector": "broken"})
    assert failures[-1].value >= 3


def test_collector_names_must_be_unique() -> None:
    with pytest.raises(ValueError):
        Runner([Steady("a"), Steady("a")])
