"""The recovery breakdown from an incident's timeline (as the agent's API returns it)."""

from datetime import UTC, datetime, timedelta

from gameday.stages import stages_of

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def event(step: str, to: str | None, seconds: float) -> dict[str, object]:
    return {"step": step, "state_to": to, "at": at(seconds)}


def detail(state: str, *timeline: dict[str, object]) -> dict[str, object]:
    return {
        "state": state,
        "detected_at": at(2.0),
        "opened_at": at(2.5),
        "closed_at": at(30.0),
        "timeline": list(timeline),
    }


def test_every_stage_of_a_resolved_incident() -> None:
    resolved = detail(
        "resolved",
        event("opened", "detected", 2.5),
        event("settle", "diagnosing", 3.5),
        event("diagnose:inconclusive", None, 3.6),
        event("diagnose", "planned", 4.5),
        event("plan", "acting", 4.75),
        event("act", "verifying", 6.0),
        event("verify", "resolved", 30.0),
    )
    assert stages_of(resolved, T0.timestamp()) == {
        "detect": 2.0,
        "intake": 0.5,
        "diagnose": 2.0,
        "policy": 0.25,
        "act": 1.25,
        "verify": 24.0,
    }


def test_an_escalated_incident_has_only_the_stages_it_reached() -> None:
    escalated = detail(
        "escalated",
        event("settle", "diagnosing", 3.5),
        event("diagnose", "planned", 4.5),
        event("escalate", "escalated", 5.0),
    )
    assert stages_of(escalated, T0.timestamp()) == {"detect": 2.0, "intake": 0.5, "diagnose": 2.0}
