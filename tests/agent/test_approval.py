"""Approvals on a live lab: denied, timed out, then granted (the fix runs and holds).

A high-risk fault is caused out of band (the app role's password changed with an ALTER
ROLE: db-auth-failure, fixed only by regenerate-env, which needs approval by default). The
pipeline runs in-process on the lab (see test_pipeline_lab: real store, action server,
observability and knowledge; the test copies the firing alert into the store as intake
would) with the real deterministic diagnosis. Slack and Discord are a loopback receiver.
The fault lasts until the granted case fixes it, so the cases run in order.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.api.errors import NotAwaitingApproval
from agent.model import IncidentState
from agent.store import IncidentStore
from agent.store.models import Incident
from gameday.out_of_band import ChangedPassword
from tests.support.eval_lab import EvalLab
from tests.support.pipeline_lab import DISCORD, SLACK, Submit, closed, story, wait_for

pytestmark = pytest.mark.slow
S = IncidentState


def awaiting(incident: Incident) -> bool:
    """Waiting for an answer, or closed: judged on the snapshot wait_for returns (a second
    read could see a later state than the incident the test then asserts on)."""
    return incident.state == S.awaiting_approval or incident.closed


def no_fix_ran(store: IncidentStore, incident_id: str) -> None:
    ran = [a for a in store.actions(incident_id) if a.action != "escalate"]
    assert ran == [], ran


@pytest.fixture
def received(lab: EvalLab) -> Iterator[dict[str, list[Any]]]:
    """The loopback receiver's bodies for the agent's Slack and Discord paths, emptied."""
    for path in (SLACK, DISCORD):
        lab.receiver.received.pop(path, None)
    yield lab.receiver.received


def test_denied_escalates_with_no_action(
    submit: Submit, broken: ChangedPassword, received: dict[str, list[Any]]
) -> None:
    with submit(tag="deny", cooldown_s=0) as (pipeline, store, incident_id):
        incident = store.require(incident_id)
        incident = wait_for(store, incident_id, awaiting)
        assert incident.state == S.awaiting_approval, story(store, incident_id)
        assert incident.approval["status"] == "pending"
        assert incident.approval["steps"] == ["regenerate-env"]
        no_fix_ran(store, incident_id)
        # the proposal went to both receivers (just after the state change): what, why, and
        # how to answer
        deadline = time.monotonic() + 30
        while not (received.get(SLACK) and received.get(DISCORD)) and time.monotonic() < deadline:
            time.sleep(0.2)
        slack = received[SLACK][-1]
        assert "regenerate-env" in str(slack) and "db-auth-failure" in str(slack)
        assert f"/incidents/{incident_id}/approve" in str(slack)
        discord = received[DISCORD][-1]["embeds"][0]
        assert "regenerate-env" in str(discord) and "/deny" in str(discord)
        pipeline.deny(incident_id, by="bob", note="not during the sale")
        incident = wait_for(store, incident_id, closed)
        with pytest.raises(NotAwaitingApproval):
            pipeline.approve(incident_id, by="late")
    assert incident.state == S.escalated
    assert incident.approval["status"] == "denied" and incident.approval["by"] == "bob"
    no_fix_ran(store, incident_id)
    steps = [e.step for e in store.events(incident_id)]
    assert "approval:request" in steps and "approval:answer" in steps
    assert "approval:denied" in steps
    assert "denied by bob: not during the sale" in (incident.report or "")


def test_no_answer_in_time_is_a_denial(
    submit: Submit, broken: ChangedPassword, received: dict[str, list[Any]]
) -> None:
    with submit(tag="timeout", cooldown_s=0, approval_timeout_s=3) as (_, store, incident_id):
        incident = wait_for(store, incident_id, closed, within_s=120)
    assert incident.state == S.escalated, story(store, incident_id)
    assert incident.approval["status"] == "timed_out"
    assert incident.approval["note"] == "denied: no answer in time"
    assert received[SLACK], "no approval request was sent"
    no_fix_ran(store, incident_id)
    escalated = [e for e in store.events(incident_id) if e.state_to == "escalated"]
    assert escalated[0].inputs["reason"] == "approval denied: no answer in time"


def test_granted_runs_the_fix_and_it_holds(
    lab: EvalLab, submit: Submit, broken: ChangedPassword, received: dict[str, list[Any]]
) -> None:
    with submit(tag="grant", cooldown_s=0, verify_timeout_s=150) as (pipeline, store, incident_id):
        incident = wait_for(store, incident_id, awaiting)
        assert incident.state == S.awaiting_approval, story(store, incident_id)
        no_fix_ran(store, incident_id)
        pipeline.approve(incident_id, by="alice", note="go")
        incident = wait_for(store, incident_id, closed, within_s=300)
    assert incident.state == S.resolved, story(store, incident_id)
    ran = [(a.action, a.status) for a in store.actions(incident_id)]
    assert ran == [("regenerate-env", "succeeded")]
    assert store.actions(incident_id)[0].idempotency_key == f"{incident_id}:1:1:regenerate-env"
    assert incident.approval["by"] == "alice"
    assert incident.mitigated_at is not None and incident.acted_at is not None
    assert incident.mitigated_at >= incident.acted_at
    assert incident.verification["runs"][-1]["passed"] is True
    report = incident.report or ""
    assert "regenerate-env" in report and "Outcome: resolved" in report
    assert broken.clean(lab) == []  # the credential really works again
