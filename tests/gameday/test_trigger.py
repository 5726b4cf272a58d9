"""When a sequence's second fault goes in, on recorded journeys and incident states."""

from gameday.outage import Journey
from gameday.plan import CasePlan
from gameday.probe import JourneyProbe
from gameday.trigger import FALLBACK_S, second_fault_due

T0 = 1_000_000.0


def _probe(pattern: str) -> JourneyProbe:
    """A probe that never ran, holding journeys from a pattern (one each 0.5 s)."""
    probe = JourneyProbe("http://127.0.0.1:9", interval_s=0.5)
    probe._journeys = [
        Journey(started_at=T0 + i * 0.5, latency_s=0.05, ok=c == ".") for i, c in enumerate(pattern)
    ]
    return probe


def _plan(kind: str, **extra: object) -> CasePlan:
    return CasePlan.model_validate({"kind": kind, "faults": ["db-lock", "api-crash"], **extra})


def test_concurrent_goes_in_at_once() -> None:
    due = second_fault_due(
        plan=_plan("concurrent"), states={}, probe=_probe(""), since=T0, clean_window_s=5, now=T0
    )
    assert due


def test_back_to_back_waits_for_users_clean_then_the_gap() -> None:
    plan = _plan("back-to-back", gap_s=20)
    probe = _probe("xxxx" + "." * 16)  # hurt 2 s, clean from 2 s, the window held at 7 s
    args = {"plan": plan, "states": {}, "probe": probe, "since": T0, "clean_window_s": 5.0}
    assert not second_fault_due(**args, now=T0 + 26.9)
    assert second_fault_due(**args, now=T0 + 27.0)
    still_hurt = _probe("xxxx" + "." * 4 + "x")
    assert not second_fault_due(
        plan=plan, states={}, probe=still_hurt, since=T0, clean_window_s=5.0, now=T0 + 500
    )


def test_back_to_back_on_a_fault_users_never_felt_waits_for_the_incident() -> None:
    plan = _plan("back-to-back", gap_s=10)
    probe = _probe("." * 30)
    open_ = {"inc-1": "verifying"}
    closed = {"inc-1": "resolved"}
    common = {"plan": plan, "probe": probe, "since": T0, "clean_window_s": 5.0, "now": T0 + 100}
    assert not second_fault_due(states=open_, **common)
    assert second_fault_due(states=closed, **common)


def test_during_approval_and_verification_wait_for_that_state() -> None:
    for kind, state in (
        ("during-approval", "awaiting_approval"),
        ("during-verification", "verifying"),
    ):
        plan = _plan(kind, window_s=120)
        common = {"plan": plan, "probe": _probe(""), "since": T0, "clean_window_s": 5.0}
        assert not second_fault_due(states={"i": "acting"}, now=T0 + 30, **common)
        assert second_fault_due(states={"i": state}, now=T0 + 30, **common)
        # the state never comes: the second fault goes in halfway through the window
        assert second_fault_due(states={"i": "acting"}, now=T0 + 60, **common)
        # no incident API at all: after the fallback delay
        assert not second_fault_due(states={}, now=T0 + FALLBACK_S - 1, **common)
        assert second_fault_due(states={}, now=T0 + FALLBACK_S, **common)
