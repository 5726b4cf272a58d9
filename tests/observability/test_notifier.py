"""The notifier against real HTTP receivers on loopback (server threads in the test)."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lab.ports import free_port
from observability.detector.detector import Detector, receivers_from
from observability.detector.notifier import Backoff, Notifier, Receiver
from observability.model import Collection, Sample
from observability.store.ring import RingStore
from tests.support.rule_sets import target_down
from tests.support.webhook_receiver import Receiving

FAST = Backoff(attempts=4, initial_s=0.01, factor=2.0, cap_s=0.05)


@pytest.fixture
def receiver() -> Iterator[Receiving]:
    r = Receiving()
    yield r
    r.close()


RULES = target_down(description="service_up={value:.0f}")


def step(store: RingStore, det: Detector, t: float, up: float) -> None:
    store.add(Collection(samples=[Sample(t, "target", "service_up", up)]))
    det.evaluate(t + 0.1)


def test_one_firing_per_episode_then_a_resolved_notification(receiver: Receiving) -> None:
    notifier = Notifier(receivers_from([receiver.url]), backoff=FAST)
    store = RingStore()
    det = Detector(rules=RULES, store=store, notifier=notifier, external_url="http://obs:9100")
    try:
        for t, up in enumerate([1, 0, 0, 0, 0, 0, 1, 1, 0]):
            step(store, det, float(t), up)
        assert notifier.flush()
    finally:
        notifier.close()
    statuses = [(b["status"], b["alerts"][0]["status"]) for b in receiver.bodies]
    assert statuses == [("firing", "firing"), ("resolved", "resolved"), ("firing", "firing")]
    first, resolved = receiver.bodies[0], receiver.bodies[1]
    assert first["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert first["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    assert first["groupKey"] == '{}:{alertname="TargetDown", service="target"}'
    assert first["commonAnnotations"] == {"summary": "target down", "description": "service_up=0"}
    assert first["alerts"][0]["generatorURL"].startswith("http://obs:9100/series?")
    # A new episode starts later than the first one did.
    assert receiver.bodies[2]["alerts"][0]["startsAt"] > first["alerts"][0]["startsAt"]
    assert notifier.counts() == {"success": 3, "retry": 0, "failure": 0, "dropped": 0}


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_attempt() -> None:
    flaky = Receiving(fail_first=2)
    notifier = Notifier([Receiver(url=flaky.url, bearer_token="s3cret")], backoff=FAST)
    try:
        notifier.send({"version": "4", "status": "firing", "alerts": []})
        assert notifier.flush()
    finally:
        notifier.close()
        flaky.close()
    assert flaky.attempts == 3
    assert len(flaky.bodies) == 1
    assert flaky.headers[0]["Authorization"] == "Bearer s3cret"
    assert notifier.counts() == {"success": 1, "retry": 2, "failure": 0, "dropped": 0}
    samples = {s.label("outcome"): s.value for s in notifier.samples(5.0)}
    assert samples["retry"] == 2 and samples["success"] == 1


def test_a_dead_receiver_is_given_up_after_the_attempts_and_counted() -> None:
    dead = Receiving(fail_first=100)
    notifier = Notifier([Receiver(url=dead.url)], backoff=FAST)
    try:
        notifier.send({"version": "4"})
        assert notifier.flush()
    finally:
        notifier.close()
        dead.close()
    assert dead.attempts == FAST.attempts
    assert notifier.counts()["failure"] == 1 and notifier.counts()["retry"] == 3


def test_a_refused_connection_is_retried_and_counted() -> None:
    notifier = Notifier([Receiver(url=f"http://127.0.0.1:{free_port()}/x")], backoff=FAST)
    try:
        notifier.send({"version": "4"})
        assert notifier.flush()
    finally:
        notifier.close()
    assert notifier.counts()["failure"] == 1


def test_a_slow_receiver_never_blocks_evaluation_or_the_other_receivers(
    receiver: Receiving,
) -> None:
    slow = Receiving()
    slow.release.clear()  # answers nothing until released
    notifier = Notifier(receivers_from([slow.url, receiver.url]), backoff=FAST)
    store = RingStore()
    det = Detector(rules=RULES, store=store, notifier=notifier)
    try:
        for t, up in enumerate([0, 0, 1]):
            step(store, det, float(t), up)
        # Evaluation went on and the healthy receiver got both notifications while the slow
        # one still holds the first request open.
        assert [r["status"] for r in det.records()] == ["resolved"]
        deadline = threading.Event()
        for _ in range(500):  # the slow one's first request may reach it after the others
            if len(receiver.bodies) == 2 and slow.attempts == 1:
                break
            deadline.wait(0.02)
        assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
        assert slow.bodies == [] and slow.attempts == 1  # held open, nothing sent behind it
        slow.release.set()
        assert notifier.flush()
        assert [b["status"] for b in slow.bodies] == ["firing", "resolved"]
    finally:
        notifier.close()
        slow.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    slow = Receiving()
    slow.release.clear()
    notifier = Notifier([Receiver(url=slow.url)], backoff=FAST, max_queue=2)
    try:
        for i in range(6):
            notifier.send({"n": i})
        # One in flight, two queued, the rest dropped without waiting.
        assert notifier.counts()["dropped"] >= 3
    finally:
        slow.release.set()
        notifier.close()
        slow.close()


def test_receivers_from_reads_the_token_file(tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n")
    got = receivers_from(["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"], token)
    assert [r.bearer_token for r in got] == ["abc", "abc"]
    assert receivers_from(["http://127.0.0.1:1/a"])[0].bearer_token is None
