"""The hooks token check on the target's `/_faults/*` (see lab.hooks_token)."""

from fastapi import Request

from lab.hooks_token import HOOKS_HEADER, HooksAccess, check_hooks_token
from target_server.fault_hooks.errors import HooksDisabledError, HooksUnauthorizedError

__all__ = ["HOOKS_HEADER", "require_hooks_token"]


def require_hooks_token(request: Request) -> None:
    """404 when hooks are disabled, 401 unless the header carries the token."""
    access = check_hooks_token(
        request.app.state.runtime.settings.fault_hooks_token_file,
        request.headers.get(HOOKS_HEADER),
    )
    if access is HooksAccess.disabled:
        raise HooksDisabledError("fault hooks disabled")
    if access is not HooksAccess.ok:
        raise HooksUnauthorizedError("missing or invalid fault hooks token")
