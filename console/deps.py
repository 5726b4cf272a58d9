"""Who is asking: the session behind the cookie, the operator role, the form's CSRF token."""

from typing import Annotated

from fastapi import Depends, Form, Request

from console.errors import CsrfFailed, LoginRequired, OperatorOnly
from console.parts import ConsoleParts, get_parts
from console.sessions import COOKIE, Session, csrf_ok

Parts = Annotated[ConsoleParts, Depends(get_parts)]


def current_session(request: Request, parts: Parts) -> Session:
    """The logged-in session; LoginRequired (a redirect to /login) without one."""
    session = parts.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired("log in with a console token")
    return session


Viewer = Annotated[Session, Depends(current_session)]


def form_session(viewer: Viewer, csrf: Annotated[str | None, Form()] = None) -> Session:
    """A form post of the logged-in session: 403 `csrf_failed` unless it carries the
    session's CSRF token (checked before the role, so a forged post is told as such)."""
    if not csrf_ok(viewer, csrf):
        raise CsrfFailed("the form's CSRF token is missing or wrong: reload the page")
    return viewer


def operator_form(session: Annotated[Session, Depends(form_session)]) -> Session:
    """A form post that changes the lab: the operator role only (403 `operator_only`)."""
    if not session.operator:
        raise OperatorOnly("the viewer role is read only")
    return session


Operator = Annotated[Session, Depends(operator_form)]
FormSession = Annotated[Session, Depends(form_session)]
