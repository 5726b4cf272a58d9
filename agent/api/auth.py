"""Intake and approval callers present the intake token: `Authorization: Bearer <token>` or
`X-Agent-Token: <token>`, compared in constant time. The token is never logged or echoed."""

from pathlib import Path

from fastapi import Request

from agent.api.deps import get_parts
from agent.api.errors import Unauthorized
from lab.tokens import same_token

MIN_TOKEN_LENGTH = 16


def read_token(path: Path) -> str:
    """The intake token from its file; a clear error when it is missing or too short."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RuntimeError(f"intake token file {path} cannot be read: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise RuntimeError(f"intake token in {path} is shorter than {MIN_TOKEN_LENGTH} characters")
    return token


def presented_token(request: Request) -> str | None:
    """The token a request carries, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-agent-token") or None


def require_token(request: Request) -> None:
    """Dependency of the intake and approval routes: 401 `unauthorized` without the token."""
    expected = get_parts(request).token
    presented = presented_token(request)
    if presented is None:
        raise Unauthorized("an intake token is required (Authorization: Bearer or X-Agent-Token)")
    if not same_token(presented, expected):
        raise Unauthorized("the intake token is not valid")
