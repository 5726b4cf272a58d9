"""The incident report and postmortem, rendered from what the real store recorded."""

from datetime import UTC, datetime, timedelta

from agent.model import (
    Alert,
    Citation,
    Diagnosis,
    Hypothesis,
    IncidentState,
    Plan,
    PlanStep,
    PolicyDecision,
    Verdict,
    Verification,
)
from agent.report import postmortem, render
from agent.store import IncidentStore
from agent.store.models import Incident
from tests.support.agent_records import record_run

S = IncidentState
T0 = datetime.now(UTC) - timedelta(minutes=5)


def _resolved_incident(store: IncidentStore) -> Incident:
    opened = store.ingest(
        [
            Alert(
                fingerprint="f-rows",
                alertname="TableRowsDropped",
                service="target-db",
                severity="critical",
                starts_at=T0,
            )
        ],
        group_key=None,
        source="alertmanager",
    ).opened[0]
    hypothesis = Hypothesis(
        fault="db-data-loss",
        runbook_id="db-data-loss",
        confidence=0.91,
        summary="a table lost its rows",
        citations=[
            Citation(kind="feature", ref="db_rows_dropped", text="products 40 -> 0"),
            Citation(kind="runbook", ref="db-data-loss", text="Restore the latest", score=0.7),
        ],
    )
    plan = Plan(
        hypothesis=hypothesis,
        steps=[PlanStep(action="restore-db", risk="high", why="runbook db-data-loss")],
        verification=Verification(signals=["db_rows_dropped"], health=["target"], hold_s=5),
    )
    decision = PolicyDecision(
        step=plan.steps[0], verdict=Verdict.needs_approval, reason="restore-db needs approval"
    )
    store.transition(opened, S.diagnosing, step="settle", inputs={}, outputs={})
    store.update(
        opened,
        diagnosis={
            **Diagnosis(hypotheses=[hypothesis]).model_dump(mode="json"),
            "evidence": {"features": {"db_rows_dropped": True}, "log_lines": ["TRUNCATE"]},
        },
        fault="db-data-loss",
        mode="deterministic",
        diagnosed_at=T0 + timedelta(seconds=12),
        usage={"calls": 0},
    )
    store.transition(opened, S.planned, step="diagnose", inputs={}, outputs={"summary": "best"})
    store.update(
        opened,
        plans=[plan.model_dump(mode="json")],
        decisions=[{**decision.model_dump(mode="json"), "plan": 0}],
    )
    store.transition(opened, S.awaiting_approval, step="approval:request", inputs={}, outputs={})
    store.transition(opened, S.acting, step="approval:granted", inputs={}, outputs={})
    record_run(
        store,
        opened,
        1,
        "succeeded",
        action="restore-db",
        target="target-db",
        key=f"{opened}:1:1:restore-db",
        run_id="run-1",
        detail={"summary": "restored snapshot 2026-manual"},
        finished_at=datetime.now(UTC),
    )
    store.update(opened, acted_at=T0 + timedelta(seconds=40))
    store.transition(opened, S.verifying, step="act", inputs={}, outputs={})
    store.update(
        opened,
        verification={
            "outcome": "verified: health ok and signals cleared",
            "runs": [{"passed": True, "checks": 9, "hold_s": 5, "timeout_s": 60}],
        },
        mitigated_at=T0 + timedelta(seconds=70),
    )
    return store.transition(opened, S.resolved, step="verify", inputs={}, outputs={})


def test_report_tells_the_story_with_times(store: IncidentStore) -> None:
    incident = _resolved_incident(store)
    report = render(incident, store.events(incident.id), store.actions(incident.id))
    assert report.startswith(f"# Incident {incident.id}")
    assert "**db-data-loss** (confidence 0.91" in report
    assert "`db_rows_dropped`" in report  # evidence and citation
    assert "restore-db needs approval" in report  # policy decision
    assert "| restore-db | target-db |" in report  # action row
    assert "succeeded: restored snapshot 2026-manual" in report
    assert "approval:granted" in report and "awaiting_approval → acting" in report
    assert "time to diagnose 12.0 s" in report and "time to mitigate 70.0 s" in report
    assert "Outcome: resolved" in report


def test_a_report_without_diagnosis_or_action_says_so(store: IncidentStore) -> None:
    opened = store.ingest(
        [Alert(fingerprint="f-x", alertname="ProbeFailing", service="target", starts_at=T0)],
        group_key=None,
        source="alertmanager",
    ).opened[0]
    store.transition(opened, S.diagnosing, step="settle", inputs={}, outputs={})
    incident = store.transition(
        opened, S.escalated, step="escalate", inputs={}, outputs={"reason": "no hypothesis"}
    )
    report = render(incident, store.events(opened), store.actions(opened))
    assert "No cause was diagnosed" in report
    assert "No action was run." in report
    assert "The agent changed nothing." in report
    assert "no hypothesis" in report  # the escalation event's reason in the timeline


def test_postmortem_carries_the_diagnosis_actions_and_times(store: IncidentStore) -> None:
    incident = _resolved_incident(store)
    pm = postmortem(incident, store.actions(incident.id))
    assert pm.incident_id == incident.id and pm.state == S.resolved
    assert pm.diagnosed_fault == "db-data-loss"
    assert pm.actions == [
        {"action": "restore-db", "params": {}, "status": "succeeded", "dry_run": False}
    ]
    assert pm.ttm_s == 70.0 and "db_rows_dropped=True" in pm.evidence
    assert "restore-db" in pm.to_markdown()
