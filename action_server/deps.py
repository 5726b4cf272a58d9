"""Request dependencies: the app's parts, and authentication with scopes."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from action_server.errors import Forbidden, Unauthorized
from action_server.keys import Scope, verify_key
from action_server.models import ApiKey
from action_server.parts import ActionParts


def get_parts(request: Request) -> ActionParts:
    """Everything the routes work with, built once per app."""
    parts: ActionParts = request.app.state.parts
    return parts


Parts = Annotated[ActionParts, Depends(get_parts)]


def authenticate(
    request: Request,
    parts: Parts,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiKey:
    """The caller's key from X-API-Key or a Bearer token; 401 when missing, wrong or revoked."""
    presented = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
    if not presented:
        raise Unauthorized("missing API key: send X-API-Key or Authorization: Bearer")
    with parts.store.session() as session:
        key = verify_key(session=session, presented=presented)
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    request.state.key_id = key.id
    return key


Caller = Annotated[ApiKey, Depends(authenticate)]


def require_scope(key: ApiKey, needed: Scope) -> None:
    """403 unless the key's scope includes `needed`."""
    if not Scope(key.scope).allows(needed):
        raise Forbidden(f"this key has scope {key.scope!r}; {needed.value!r} is needed")


def scoped(needed: Scope) -> Callable[[ApiKey], ApiKey]:
    """A dependency that authenticates and requires `needed`."""

    def check(key: Caller) -> ApiKey:
        require_scope(key, needed)
        return key

    return check
