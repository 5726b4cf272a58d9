"""Rendering a page or a live fragment, with the session's role, CSRF token and messages."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from console.parts import get_parts
from console.sessions import Session

FRAGMENT_HEADER = "x-console-fragment"  # sent by console.js when it refreshes a live part


def is_fragment(request: Request) -> bool:
    """Whether the request is a live part's refresh (not a page load)."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


def page(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A template rendered for `session` (its one-shot messages shown, then dropped)."""
    flash: list[tuple[str, str]] = []
    if session is not None and not is_fragment(request):
        flash, session.flash = session.flash, []
    return get_parts(request).templates.TemplateResponse(
        request,
        template,
        {"session": session, "flash": flash, **context},
        status_code=status_code,
    )
