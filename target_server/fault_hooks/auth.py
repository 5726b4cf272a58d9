"""The hooks token check: the file named in settings, compared in constant time."""

import hmac
from pathlib import Path

from fastapi import Request

from target_server.fault_hooks.errors import HooksDisabledError, HooksUnauthorizedError

HOOKS_HEADER = "X-Fault-Hooks-Token"


def _token(path: Path | None) -> str | None:
    # Read on every call: a rotated token takes effect without a restart.
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def require_hooks_token(request: Request) -> None:
    """404 when hooks are disabled, 401 unless the header carries the token."""
    token = _token(request.app.state.runtime.settings.fault_hooks_token_file)
    if token is None:
        raise HooksDisabledError("fault hooks disabled")
    presented = request.headers.get(HOOKS_HEADER, "")
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise HooksUnauthorizedError("missing or invalid fault hooks token")
