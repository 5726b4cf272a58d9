"""Logging in with a console token and out again."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import FormSession, Parts
from console.render import page
from console.sessions import COOKIE, LOGIN_COOKIE
from lab.tokens import same_token

router = APIRouter()
TOKEN_MAX = 512


def _cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", path="/", secure=False
    )


def _login_page(request: Request, *, error: str | None = None, status: int = 200) -> HTMLResponse:
    csrf = secrets.token_urlsafe(32)
    response = page(request, "login.html", None, status_code=status, csrf=csrf, error=error)
    _cookie(response, LOGIN_COOKIE, csrf, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    """The login form (its CSRF token is also a cookie: double submit)."""
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    parts: Parts,
    token: Annotated[str, Form(max_length=TOKEN_MAX)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Open a session for the role whose token this is."""
    expected = request.cookies.get(LOGIN_COOKIE)
    if expected is None or not same_token(csrf, expected):
        return _login_page(request, error="the form expired: try again", status=403)
    role = parts.sessions.role_of(token.strip())
    if role is None:
        return _login_page(request, error="that is not a console token", status=401)
    sid, _ = parts.sessions.open(role)
    response = RedirectResponse("/lab", status_code=303)
    _cookie(response, COOKIE, sid, max_age=int(parts.settings.session_ttl_s))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, parts: Parts, _: FormSession) -> Response:
    """Close the session."""
    parts.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home() -> RedirectResponse:
    """The lab page."""
    return RedirectResponse("/lab", status_code=303)
