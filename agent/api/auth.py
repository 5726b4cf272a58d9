"""Who may call what. A caller presents a token as `Authorization: Bearer <token>` or
`X-Agent-Token: <token>`, compared in constant time (lab.tokens); tokens are never logged
or echoed.

The intake token (observability holds it too) posts alerts and silences, and is refused
(403) on approve and deny. An approver's token (lab.approvers: one per person or role)
answers approvals only, refused (403) everywhere else, and names who answered.
"""

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from agent.api.deps import get_parts
from agent.api.errors import ApproverTokenRequired, IntakeTokenRequired, Unauthorized
from lab.approvers import Approvers, read_approvers
from lab.tokens import same_token

MIN_TOKEN_LENGTH = 16
HOW = "Authorization: Bearer or X-Agent-Token"


def read_token(path: Path) -> str:
    """The intake token from its file; a clear error when it is missing or too short."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RuntimeError(f"intake token file {path} cannot be read: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise RuntimeError(f"intake token in {path} is shorter than {MIN_TOKEN_LENGTH} characters")
    return token


def load_approvers(path: Path | None, *, intake_token: str) -> Approvers:
    """The approvers file (none: no one can answer); a clear error when it is unreadable,
    malformed, or gives an approver the intake token."""
    if path is None:
        return Approvers()
    try:
        approvers = read_approvers(path)
    except OSError as exc:
        raise RuntimeError(f"approvers file {path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    shared = approvers.named_by(intake_token)
    if shared is not None:
        raise RuntimeError(f"approver {shared} in {path} holds the intake token: give it its own")
    return approvers


def presented_token(request: Request) -> str | None:
    """The token a request carries, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-agent-token") or None


async def require_token(request: Request) -> None:
    """Dependency of intake and silences: 401 `unauthorized` without a valid token, 403
    `intake_token_required` for an approver's. Async: it never blocks, and FastAPI would run
    a sync dependency in a worker thread on every request."""
    parts = get_parts(request)
    presented = presented_token(request)
    if presented is None:
        raise Unauthorized(f"the intake token is required ({HOW})")
    if same_token(presented, parts.token):
        return
    if parts.approvers.named_by(presented) is not None:
        raise IntakeTokenRequired("an approver's token answers approvals only")
    raise Unauthorized("the intake token is not valid")


async def approver_name(request: Request) -> str:
    """Dependency of approve and deny: the name of the approver whose token the request
    carries; 401 `unauthorized` without a valid token, 403 `approver_token_required` for the
    intake token."""
    parts = get_parts(request)
    presented = presented_token(request)
    if presented is None:
        raise Unauthorized(f"an approver's token is required ({HOW})")
    name = parts.approvers.named_by(presented)
    if name is not None:
        return name
    if same_token(presented, parts.token):
        raise ApproverTokenRequired("the intake token cannot answer approvals")
    raise Unauthorized("the approver token is not valid")


ApproverName = Annotated[str, Depends(approver_name)]
