"""Incidents: list, the full story of one, its report; approve or deny a pending step.

Read routes need no token (the agent listens on loopback, like observability); answering
an approval needs an approver's token, whose name is recorded as the one who answered.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from agent.api.auth import ApproverName
from agent.api.deps import Parts
from agent.api.errors import AgentError, ApproverMismatch, NotAwaitingApproval, ReportNotReady
from agent.model import IncidentState
from agent.parts import AgentParts
from agent.store.models import Incident

router = APIRouter()
IncidentId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class Answer(BaseModel):
    """An answer to an approval request: why, and optionally who (checked, never trusted)."""

    by: str | None = Field(None, min_length=1, max_length=100)  # must be the token's name
    note: str = Field("", max_length=2000)


def summary(incident: Incident) -> dict[str, Any]:
    """An incident's row as the list shows it."""
    best = (incident.diagnosis.get("hypotheses") or [{}])[0]
    return {
        "id": incident.id,
        "state": incident.state.value,
        "title": incident.title,
        "service": incident.service,
        "severity": incident.severity,
        "source": incident.source,
        "fault": incident.fault or best.get("fault"),
        "confidence": best.get("confidence"),
        "alert_count": incident.alert_count,
        "opened_at": incident.opened_at,
        "detected_at": incident.detected_at,
        "mitigated_at": incident.mitigated_at,
        "closed_at": incident.closed_at,
        "ttd_s": incident.ttd_s,
        "ttm_s": incident.ttm_s,
    }


def _evidence(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the last perception saw (the outputs of the latest perceive step)."""
    for event in reversed(events):
        if str(event["step"]).startswith("perceive"):
            outputs: dict[str, Any] = event["outputs"]
            return outputs
    return {}


def detail(parts: AgentParts, incident_id: str) -> dict[str, Any]:
    """An incident's whole story: timeline, evidence, diagnosis, plans, actions, times."""
    store = parts.store
    incident = store.require(incident_id)
    events = [e.model_dump(mode="json") for e in store.events(incident_id)]
    return {
        **incident.model_dump(mode="json", exclude={"report"}),
        "ttd_s": incident.ttd_s,
        "ttm_s": incident.ttm_s,
        "has_report": incident.report is not None,
        "alerts": [a.model_dump(mode="json") for a in store.alerts(incident_id)],
        "actions": [a.model_dump(mode="json") for a in store.actions(incident_id)],
        "evidence": _evidence(events),
        "timeline": events,
    }


@router.get("/incidents")
async def list_incidents(
    parts: Parts,
    state: IncidentState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Incidents newest first, optionally in one state."""
    incidents = await run_in_threadpool(parts.store.list, state, limit)
    return {"incidents": [summary(i) for i in incidents]}


@router.get("/incidents/{incident_id}")
async def show_incident(parts: Parts, incident_id: IncidentId) -> dict[str, Any]:
    """One incident with its timeline, evidence, diagnosis, plans, actions and times."""
    return await run_in_threadpool(detail, parts, incident_id)


@router.get("/incidents/{incident_id}/report", response_class=PlainTextResponse)
async def report(parts: Parts, incident_id: IncidentId) -> PlainTextResponse:
    """The incident's Markdown report, once it is closed."""
    incident = await run_in_threadpool(parts.store.require, incident_id)
    if not incident.closed or not incident.report:
        raise ReportNotReady(f"incident {incident_id} is {incident.state.value}: no report yet")
    return PlainTextResponse(incident.report, media_type="text/markdown; charset=utf-8")


def _answer(
    parts: AgentParts, incident_id: str, answer: Answer, *, by: str, granted: bool
) -> Incident:
    if answer.by is not None and answer.by != by:
        raise ApproverMismatch(f"this token is {by}'s, not {answer.by}'s")
    incident = parts.store.require(incident_id)
    if incident.state is not IncidentState.awaiting_approval:
        raise NotAwaitingApproval(
            f"incident {incident_id} is {incident.state.value}, not awaiting approval"
        )
    if parts.pipeline is None:
        raise AgentError("the pipeline is not running")
    respond = parts.pipeline.approve if granted else parts.pipeline.deny
    return respond(incident_id, by=by, note=answer.note)


@router.post("/incidents/{incident_id}/approve")
async def approve(
    parts: Parts, incident_id: IncidentId, by: ApproverName, answer: Answer
) -> dict[str, Any]:
    """Grant the pending approval, as the approver the token names: the proposed steps run."""
    incident = await run_in_threadpool(_answer, parts, incident_id, answer, by=by, granted=True)
    return summary(incident)


@router.post("/incidents/{incident_id}/deny")
async def deny(
    parts: Parts, incident_id: IncidentId, by: ApproverName, answer: Answer
) -> dict[str, Any]:
    """Deny the pending approval, as the approver the token names: it escalates, no action."""
    incident = await run_in_threadpool(_answer, parts, incident_id, answer, by=by, granted=False)
    return summary(incident)
