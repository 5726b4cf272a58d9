"""agent.verify.failing: what still keeps a fix from being verified.

Observability here is a fixed in-memory answer (a test double of its two reads), because what
is under test is only the judgement over them; the pipeline lab tests verify on a live lab.
"""

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent.model import Hypothesis, Perception, Plan, PlanStep, Verification
from agent.verify import VerifyResult, failing, routed_around, routed_around_now, verify


class Answer:
    def __init__(self, alerts: list[dict[str, Any]], healthy: bool = True) -> None:
        self.alerts, self.healthy = alerts, healthy

    def health(self, services: list[str]) -> dict[str, bool]:
        return dict.fromkeys(services, self.healthy)

    def perceive(self, window_s: float) -> Perception:
        return Perception(taken_at=datetime.now(UTC), alerts=self.alerts)


def firing(name: str, service: str | None) -> dict[str, Any]:
    return {"alertname": name, "service": service, "status": "firing"}


CHECK = Verification(signals=["alert:HighErrorRatio:target"], health=["target"])


def test_an_incident_alert_still_firing_on_the_verified_service_fails() -> None:
    obs = Answer([firing("ProbeFailing", "target")])
    assert failing(obs, alertnames=["ProbeFailing"], verification=CHECK) == [
        "alert firing: ProbeFailing"
    ]


def test_a_dependency_routed_around_may_stay_broken() -> None:
    """upstream-outage: after switch-to-fallback the primary's own probe still fails."""
    obs = Answer([firing("ProbeFailing", "upstream-primary")])
    switch = PlanStep(action="switch-to-fallback", params={"dependency": "pricing"})
    plan = Plan(hypothesis=Hypothesis(fault="x", confidence=1, summary="x"), steps=[switch])
    around = routed_around(plan)
    assert around == {"upstream-primary"}
    assert failing(obs, alertnames=["ProbeFailing"], verification=CHECK, routed_around=around) == []


def test_an_alert_on_another_service_still_fails_a_wrong_fix() -> None:
    """db-auth-failure with clear-cache tried first: the target looks fine (its warm pool
    hides the password change) but target-db's probe still fails: not verified."""
    obs = Answer([firing("ProbeFailing", "target-db")])
    assert failing(obs, alertnames=["ProbeFailing"], verification=CHECK) == [
        "alert firing: ProbeFailing"
    ]


def test_unhealthy_and_unlabelled_alerts_fail() -> None:
    obs = Answer([firing("ProbeFailing", None)], healthy=False)
    assert failing(obs, alertnames=["ProbeFailing"], verification=CHECK) == [
        "health: target unhealthy",
        "alert firing: ProbeFailing",
    ]


class Timeline:
    """Answers that change with a fake clock: alert name -> the seconds it fires until."""

    def __init__(self, until: dict[str, float]) -> None:
        self.until, self.now = until, 0.0

    def clock(self) -> float:
        return self.now

    def health(self, services: list[str]) -> dict[str, bool]:
        return dict.fromkeys(services, True)

    def perceive(self, window_s: float) -> Perception:
        alerts = [firing(name, "target") for name, t in self.until.items() if self.now < t]
        self.now += 1.0  # one check a second
        return Perception(taken_at=datetime.now(UTC), alerts=alerts)


def _verify(
    timeline: Timeline,
    explained: frozenset[str] | None,
    elsewhere: Callable[[], frozenset[str]] | None = None,
) -> VerifyResult:
    return verify(
        timeline,
        alertnames=["HighErrorRatio", "DbBlockedSessions", "ProbeFailing"],
        verification=Verification(
            signals=["alert:HighErrorRatio:target"], health=["target"], hold_s=5, timeout_s=60
        ),
        stop=threading.Event(),
        explained=explained,
        elsewhere=elsewhere,
        interval_s=0,
        clock=timeline.clock,
    )


def test_a_fix_that_held_beside_an_unexplained_alert_is_partial() -> None:
    """db-lock and upstream-outage at once: after the first fix, an alert no fix so far
    explains keeps firing: partial (diagnose the rest), not a failure after the timeout,
    even when the fix's own signal never clears (the lock keeps the 5xx ratio up)."""
    for own_until in (3, 999):
        timeline = Timeline({"HighErrorRatio": own_until, "DbBlockedSessions": 999})
        result = _verify(timeline, frozenset({"HighErrorRatio"}))
        assert not result.passed and result.partial
        assert result.still_failing == ["alert firing: DbBlockedSessions"]
        assert timeline.now < 15  # answered after hold_s of it, not at the timeout


def test_an_explained_alert_still_firing_delays_the_pass_and_is_never_partial() -> None:
    timeline = Timeline({"HighErrorRatio": 3, "ProbeFailing": 20})
    result = _verify(timeline, frozenset({"HighErrorRatio", "ProbeFailing"}))
    assert result.passed and not result.partial
    assert timeline.now >= 20 + 5  # not before every alert of the incident cleared and held
    never = _verify(Timeline({"DbBlockedSessions": 999}), None)  # everything is the fix's own
    assert not never.passed and not never.partial


def test_an_alert_another_incidents_fix_explains_is_waited_for_not_diagnosed() -> None:
    """db-lock and upstream-outage at once, two incidents: the lock's took the probe alert of
    the outage, which the other incident is fixing. Its fix held: the probe alert is waited
    for (that fix clears it) instead of making a partial and a second diagnosis (which
    restarted the API for nothing); the same alert with nobody fixing it is partial."""
    asked: list[float] = []

    def upstream_fix_under_way() -> frozenset[str]:
        asked.append(timeline.now)
        return frozenset({"ProbeFailing", "HighErrorRatio"})

    timeline = Timeline({"DbBlockedSessions": 2, "ProbeFailing": 18})
    result = _verify(timeline, frozenset({"DbBlockedSessions"}), upstream_fix_under_way)
    assert result.passed and not result.partial
    assert timeline.now >= 18 + 5  # the incident closes with all of its alerts resolved
    assert len(asked) >= 18  # asked at every check: claims change while verifying
    alone = _verify(
        Timeline({"DbBlockedSessions": 2, "ProbeFailing": 18}), frozenset({"DbBlockedSessions"})
    )
    assert alone.partial and alone.still_failing == ["alert firing: ProbeFailing"]


def test_a_primary_an_earlier_fix_routed_around_stays_routed_around() -> None:
    """db-lock and upstream-outage in one incident: pricing switched to the fallback first,
    then the lock's fix verified while the primary stays down (its probe alert firing) until
    its owner fixes it: it is not the lock fix's failure (it timed out after 150 s and the
    incident escalated 'unknown' in a real-chaos game day)."""
    switch = ("switch-to-fallback", {"dependency": "pricing", "route": "fallback"}, True)
    assert routed_around_now([switch]) == {"upstream-primary"}
    assert routed_around_now([switch, ("terminate-db-blockers", {}, True)]) == {"upstream-primary"}
    back = ("switch-to-fallback", {"dependency": "pricing", "route": "primary"}, True)
    assert routed_around_now([switch, back]) == frozenset()  # switched back: not any more
    failed = ("switch-to-fallback", {"dependency": "pricing", "route": "fallback"}, False)
    assert routed_around_now([failed]) == frozenset()
    assert routed_around_now([("switch-to-fallback", {"dependency": "db"}, True)]) == frozenset()


def test_an_unexplained_alert_makes_a_partial_after_the_partial_hold() -> None:
    """The second fault's alert fires from the start: a partial after partial_hold_s (3 s),
    not the whole hold_s, since no fix explains it anyway."""
    timeline = Timeline({"HighErrorRatio": 2, "DbBlockedSessions": 999})
    result = verify(
        timeline,
        alertnames=["HighErrorRatio", "DbBlockedSessions"],
        verification=Verification(signals=[], health=["target"], hold_s=10, timeout_s=60),
        stop=threading.Event(),
        explained=frozenset({"HighErrorRatio"}),
        partial_hold_s=3,
        interval_s=0,
        clock=timeline.clock,
    )
    assert result.partial and 3 <= timeline.now < 10
