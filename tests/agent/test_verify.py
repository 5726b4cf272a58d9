"""agent.verify.failing: what still keeps a fix from being verified.

Observability here is a fixed in-memory answer (a test double of its two reads), because what
is under test is only the judgement over them; the pipeline lab tests verify on a live lab.
"""

from datetime import UTC, datetime
from typing import Any

from agent.model import Hypothesis, Perception, Plan, PlanStep, Verification
from agent.verify import failing, routed_around


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
