"""MCP approvals: the high-risk actions external agents asked for through the MCP gateway,
with Approve / Deny for an operator (the client's next approval_status call runs it)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from console.actions import act
from console.deps import Operator, Parts, Viewer
from console.errors import ServiceFailed
from console.render import page
from mcp_gateway.approvals import ApprovalError, State

router = APIRouter()
ApprovalId = Annotated[str, Path(max_length=40, pattern=r"^apr_[0-9a-f]+$")]
STATES = [s.value for s in State]
StateFilter = Annotated[str, Query(pattern="^(" + "|".join(STATES) + ")?$")]
Note = Annotated[str, Form(max_length=1500)]
SHOWN = 100


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(
    request: Request, parts: Parts, session: Viewer, state: StateFilter = ""
) -> HTMLResponse:
    """Requests newest first (the last SHOWN), of one state when asked."""
    try:
        rows = [r.view() for r in parts.approvals.recent(state=state or None, limit=SHOWN)]
        store_error = None
    except ApprovalError as exc:
        rows, store_error = [], f"ops-db: {exc}"
    return page(
        request,
        "approvals.html",
        session,
        rows=rows,
        state=state,
        states=STATES,
        store_error=store_error,
    )


def _decide(
    parts: Parts, session: Operator, approval_id: str, note: str, *, yes: bool
) -> RedirectResponse:
    verb = "approve" if yes else "deny"

    def run() -> str:
        try:
            return parts.approvals.decide(
                approval_id, approve=yes, by=f"console:{session.actor}", note=note
            ).state
        except ApprovalError as exc:
            raise ServiceFailed("mcp approvals", str(exc), status=409, code=exc.code) from None

    return act(
        parts,
        session,
        action=f"mcp-{verb}",
        target=approval_id,
        params={"note": note},
        run=run,
        done=lambda state: (
            f"{approval_id} {state}: the MCP client's next poll "
            + ("runs it" if yes else "learns it will not run")
        ),
        back="/approvals",
    )


@router.post("/approvals/{approval_id}/{verb}")
def answer(
    parts: Parts,
    session: Operator,
    approval_id: ApprovalId,
    verb: Literal["approve", "deny"],
    note: Note = "",
) -> RedirectResponse:
    """approve: the action runs on the client's next approval_status call; deny: it never
    runs."""
    return _decide(parts, session, approval_id, note, yes=verb == "approve")
