"""Incidents: the list (state, fault, times; filtered, paginated) and one incident's story,
with Approve / Deny when it awaits an approval."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from console.actions import act
from console.deps import Operator, Parts, Viewer
from console.parts import ConsoleParts
from console.render import page
from console.sessions import Session
from lab.incident_states import IncidentState

router = APIRouter()
IncidentId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
FaultFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9-]*$")]
STATES = [s.value for s in IncidentState]
# empty (the filter form's "any") or one state
StateFilter = Annotated[str, Query(pattern="^(" + "|".join(STATES) + ")?$")]


def _live(request: Request) -> bool:
    return request.url.path.endswith("/live")


def _list(parts: ConsoleParts, state: str, fault: str | None, page_no: int) -> dict[str, Any]:
    return {
        "incidents": parts.history.incidents(
            state=state or None,
            fault=fault or None,
            page=page_no,
            size=parts.settings.page_size,
        ),
        "state": state or None,
        "fault": fault or "",
        "states": STATES,
    }


@router.get("/incidents", response_class=HTMLResponse)
@router.get("/incidents/live", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    parts: Parts,
    session: Viewer,
    state: StateFilter = "",
    fault: FaultFilter = None,
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
) -> HTMLResponse:
    """Incidents newest first; `/live` is the list alone, which the page refreshes every 2 s."""
    template = "incidents_live.html" if _live(request) else "incidents.html"
    return page(request, template, session, **_list(parts, state, fault, page_no))


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
@router.get("/incidents/{incident_id}/live", response_class=HTMLResponse)
def incident_page(
    request: Request, parts: Parts, session: Viewer, incident_id: IncidentId
) -> HTMLResponse:
    """One incident: timeline, evidence, hypotheses, decisions, actions, report (`/live`: the
    part the page refreshes)."""
    detail = parts.history.incident(incident_id)
    template = "incident_live.html" if _live(request) else "incident.html"
    return page(request, template, session, d=detail)


def _answer(
    parts: ConsoleParts, session: Session, incident_id: str, note: str, *, granted: bool
) -> RedirectResponse:
    verb = "approve" if granted else "deny"
    note = f"[console: {session.actor}] {note}".strip()
    return act(
        parts,
        session,
        action=verb,
        target=incident_id,
        params={"note": note},
        run=lambda: parts.services.answer_approval(incident_id, granted=granted, note=note),
        done=lambda _: f"{verb}d {incident_id} (the agent records it by console)",
        back=f"/incidents/{incident_id}",
    )


Note = Annotated[str, Form(max_length=1500)]


@router.post("/incidents/{incident_id}/approve")
def approve(
    parts: Parts, session: Operator, incident_id: IncidentId, note: Note = ""
) -> RedirectResponse:
    """Grant the pending approval: the proposed steps run."""
    return _answer(parts, session, incident_id, note, granted=True)


@router.post("/incidents/{incident_id}/deny")
def deny(
    parts: Parts, session: Operator, incident_id: IncidentId, note: Note = ""
) -> RedirectResponse:
    """Deny the pending approval: the incident escalates, no action."""
    return _answer(parts, session, incident_id, note, granted=False)
