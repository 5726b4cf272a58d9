"""The incident pipeline in-process on a live lab: its ops-db, action server and observability.

The lab's own agent is off; the test stands in for intake only (it copies a firing alert
from observability's /alerts into the store, as the webhook would) and runs an
IncidentPipeline with the real ObservabilityClient, KnowledgeIndex (hashing embedding),
ActionClient with an `act` key of its own, and a notifier posting to a loopback receiver
(standing in for Slack and Discord, which are not reachable here). Where a test needs a
particular hypothesis ranking (a wrong first guess, say), the diagnosis is a typed
Diagnosis built by the test; plans, policy, actions and verification are the real ones.

The cases share one lab and run in order: an alert that no longer fires clears by itself
(healthy lab); then, with one out-of-band fault (the app role's password changed by hand,
db-auth-failure, which lasts until fixed), a wrong first fix runs and fails verification
and the cap stops the second; the same fix on the same target again from another incident
is held as a loop.
"""

from pathlib import Path
from typing import Any

import pytest

from agent.model import Alert, Diagnosis, Hypothesis, IncidentState, Perception
from agent.pipeline import Diagnoser
from agent.store import IncidentStore
from agent.store.models import Incident
from gameday.out_of_band import ChangedPassword
from gameday.steady import wait_steady
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import Match
from knowledge.runbook import Runbook
from tests.support.eval_lab import SLACK_PATH, EvalLab
from tests.support.pipeline_lab import Submit, closed, pipeline_on, story, wait_for

pytestmark = pytest.mark.slow
S = IncidentState


def constructed(*hypotheses: tuple[str, float]) -> Diagnoser:
    """A diagnosis fixed by the test: (fault, confidence) best first, runbook = fault."""

    def diagnose(
        perception: Perception, runbooks: list[Runbook], matches: list[Match]
    ) -> Diagnosis:
        return Diagnosis(
            hypotheses=[
                Hypothesis(fault=f, runbook_id=f, confidence=c, summary=f"test: {f}")
                for f, c in hypotheses
            ],
            notes="constructed by the test",
        )

    return diagnose


def steps_of(store: IncidentStore, incident_id: str) -> list[str]:
    return [e.step for e in store.events(incident_id)]


def handled(
    submit: Submit, tag: str, diagnoser: Diagnoser, **overrides: Any
) -> tuple[Incident, IncidentStore]:
    """An incident opened on the firing FAULT_ALERT (its fingerprint tagged `tag`), handled
    until closed by a pipeline with this diagnoser and `overrides`; the incident and its
    store."""
    with submit(tag=tag, diagnoser=diagnoser, **overrides) as (_, store, incident_id):
        return wait_for(store, incident_id, closed), store


def test_an_alert_that_no_longer_fires_clears_by_itself(
    lab: EvalLab, knowledge: KnowledgeIndex, tmp_path: Path
) -> None:
    wait_steady(lab, 180.0, "before the cleared alert")
    with pipeline_on(lab, knowledge, tmp_path) as (pipeline, store):
        opened = store.ingest(
            [Alert(fingerprint="gone-1", alertname="SomethingThatStopped", service="target")],
            group_key=None,
            source="alertmanager",
        ).opened
        pipeline.submit(opened[0])
        incident = wait_for(store, opened[0], closed, within_s=60)
    assert incident.state == S.resolved
    assert store.actions(opened[0]) == []
    assert "cleared" in steps_of(store, opened[0])
    assert incident.verification["outcome"] == "cleared by itself, no action"


def test_wrong_first_fix_fails_verification_then_the_cap_escalates(
    lab: EvalLab, submit: Submit, broken: ChangedPassword
) -> None:
    incident, store = handled(
        submit,
        "cap",
        constructed(("cache-corruption", 0.8), ("db-auth-failure", 0.7)),
        max_actions_per_incident=1,
        verify_timeout_s=8.0,
    )
    incident_id = incident.id
    assert incident.state == S.escalated, story(store, incident_id)
    actions = store.actions(incident_id)
    assert [(a.action, a.status) for a in actions if a.action != "escalate"] == [
        ("clear-cache", "succeeded")
    ]
    assert actions[0].idempotency_key == f"{incident_id}:1:1:clear-cache"
    assert [p["hypothesis"]["fault"] for p in incident.plans] == [
        "cache-corruption",
        "db-auth-failure",
    ]
    last = [d for d in incident.decisions if d["plan"] == 1]
    assert last[0]["verdict"] == "escalate" and last[0]["reason"].startswith("cap: 1 action")
    runs = incident.verification["runs"]
    assert len(runs) == 1 and not runs[0]["passed"]
    assert any("ProbeFailing" in p for p in runs[0]["still_failing"]), runs
    steps = steps_of(store, incident_id)
    for step in ("settle", "diagnose", "policy", "plan", "act:clear-cache", "verify", "escalate"):
        assert step in steps, (step, steps)
    for event in store.events(incident_id):
        assert isinstance(event.inputs, dict) and isinstance(event.outputs, dict)
        if event.step in ("diagnose", "policy", "verify", "act:clear-cache"):
            assert event.inputs and event.outputs, event.step
    assert incident.report is not None and "clear-cache" in incident.report
    assert "cap: 1 action" in incident.report
    # the action server's escalate delivered to its (loopback) Slack receiver
    escalations = lab.receiver.received.get(SLACK_PATH, [])
    assert any(incident_id in str(body) for body in escalations)


def test_the_same_fix_again_past_its_budget_is_held_as_a_loop(
    submit: Submit, broken: ChangedPassword
) -> None:
    """clear-cache ran on the target in the test before; with a budget of one run, another
    incident's clear-cache there is a loop: escalated with the history, nothing run."""
    diagnoser = constructed(("cache-corruption", 0.9))
    incident, store = handled(submit, "budget", diagnoser, same_action_max=1)
    incident_id = incident.id
    assert incident.state == S.escalated
    assert [a.action for a in store.actions(incident_id)] == ["escalate"]
    decision = incident.decisions[0]
    assert decision["verdict"] == "escalate", decision
    assert decision["reason"].startswith("loop: clear-cache ran on target 1 times"), decision
    assert "loop: clear-cache" in (incident.report or "")


def test_dry_run_mode_validates_the_plan_and_changes_nothing(
    submit: Submit, broken: ChangedPassword
) -> None:
    diagnoser = constructed(("cache-corruption", 0.9))
    incident, store = handled(submit, "dry", diagnoser, dry_run=True, cooldown_s=0)
    incident_id = incident.id
    assert incident.state == S.escalated, story(store, incident_id)
    records = [(a.action, a.status, a.dry_run) for a in store.actions(incident_id)]
    assert records[0] == ("clear-cache", "dry_run", True)
    assert incident.acted_at is None  # nothing real was attempted
    escalated = [e for e in store.events(incident_id) if e.state_to == "escalated"]
    assert escalated[0].inputs["reason"].startswith("dry-run mode: nothing changed")
    assert "(dry run)" in (incident.report or "")


def scripted(*looks: list[tuple[str, float]]) -> Diagnoser:
    """A diagnosis per look, in order (the last repeats): evidence that firms up over time."""
    calls = iter(looks)
    last: list[tuple[str, float]] = []

    def diagnose(
        perception: Perception, runbooks: list[Runbook], matches: list[Match]
    ) -> Diagnosis:
        nonlocal last
        last = next(calls, last)
        return constructed(*last)(perception, runbooks, matches)

    return diagnose


def test_a_weak_first_look_is_taken_again_while_the_incident_is_young(
    submit: Submit, broken: ChangedPassword
) -> None:
    """Under AGENT_MIN_CONFIDENCE, or no runbook matched: look again every retry_s within
    the patience instead of escalating on the first look; act on the look that is sure."""
    incident, store = handled(
        submit,
        "weak",
        scripted([], [("cache-corruption", 0.3)], [("db-auth-failure", 0.9)]),
        dry_run=True,  # the plan is validated, nothing changes
        approval_required=[],
        cooldown_s=0,
        diagnose_patience_s=30.0,
        diagnose_retry_s=1.0,
    )
    incident_id = incident.id
    looks = [e for e in store.events(incident_id) if e.step == "diagnose:inconclusive"]
    assert [e.outputs["summary"] for e in looks] == ["none", "best: cache-corruption (0.30)"]
    assert incident.fault == "db-auth-failure", story(store, incident_id)
    assert [(a.action, a.dry_run) for a in store.actions(incident_id)][0] == (
        "regenerate-env",
        True,
    )


def test_a_look_that_stays_weak_is_escalated_once_patience_runs_out(
    submit: Submit, broken: ChangedPassword
) -> None:
    diagnoser = constructed(("db-auth-failure", 0.3))
    incident, store = handled(
        submit, "stays-weak", diagnoser, cooldown_s=0, diagnose_patience_s=5.0, diagnose_retry_s=1.0
    )
    incident_id = incident.id
    assert incident.state == S.escalated, story(store, incident_id)
    looks = [e for e in store.events(incident_id) if e.step == "diagnose:inconclusive"]
    assert 2 <= len(looks) <= 5  # within 5 s of intake, one look a second
    assert [a.action for a in store.actions(incident_id)] == ["escalate"]
    decision = incident.decisions[0]
    assert decision["verdict"] == "escalate" and decision["reason"].startswith("low confidence")


def test_after_a_failed_fix_a_fresh_look_finds_what_the_first_did_not(
    submit: Submit, broken: ChangedPassword
) -> None:
    """The first look names one fault (the wrong one) and nothing else; its fix fails
    verification; the look taken again on fresh evidence names the right one, whose fix
    holds. (Last in the module: it really fixes the password.)"""
    incident, store = handled(
        submit,
        "fresh-look",
        scripted(
            [("cache-corruption", 0.9)],
            [("cache-corruption", 0.9), ("db-auth-failure", 0.8)],
        ),
        approval_required=[],
        cooldown_s=0,
        verify_timeout_s=45.0,  # the wrong fix's verification fails sooner
    )
    ran = [a.action for a in store.actions(incident.id) if not a.dry_run]
    assert ran == ["clear-cache", "regenerate-env"], story(store, incident.id)
    assert incident.state == S.resolved, story(store, incident.id)
    states = [e.state_to for e in store.events(incident.id) if e.state_to]
    assert states.count("diagnosing") == 2  # the second look, after the failed verification
