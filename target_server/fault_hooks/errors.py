"""Errors of the hook endpoints and of a poisoned request, answered by the target's handler."""

from target_server.errors import TargetError


class HooksDisabledError(TargetError):
    """No hooks token is configured (or its file is missing or blank)."""

    status_code, code = 404, "fault_hooks_disabled"


class HooksUnauthorizedError(TargetError):
    """The hooks token header is missing or wrong."""

    status_code, code = 401, "fault_hooks_unauthorized"


class HookNotFoundError(TargetError):
    """No such hook is active in this process (never added, removed, or the API restarted)."""

    status_code, code = 404, "fault_hook_not_found"


class CatalogueStateError(TargetError):
    """The in-memory catalogue state is inconsistent: the request cannot be served."""

    code = "catalogue_state_corrupted"
