"""Audit: the action server's requests (runs and refusals) and what was done from the
console, each filtered and paginated."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from console.deps import Parts, Viewer
from console.render import page

router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=10_000)]
Word = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    parts: Parts,
    session: Viewer,
    outcome: Word = "",
    action: Word = "",
    actor: Word = "",
    page_no: Annotated[PageNo, Query(alias="page")] = 1,
    console_page: Annotated[PageNo, Query(alias="cpage")] = 1,
) -> HTMLResponse:
    """Action runs and refusals, then console actions with who did them."""
    size = parts.settings.page_size
    history = parts.history
    return page(
        request,
        "audit.html",
        session,
        audit=history.audit(
            outcome=outcome or None, action=action or None, page=page_no, size=size
        ),
        console=history.console_actions(actor=actor or None, page=console_page, size=size),
        outcome=outcome,
        action=action,
        actor=actor,
    )
