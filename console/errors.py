"""The console's errors: each a status and a stable code, rendered as a message page."""


class ConsoleError(Exception):
    """Base of every error the console answers on purpose."""

    status_code = 400
    code = "bad_request"


class LoginRequired(ConsoleError):
    status_code = 401
    code = "login_required"


class CsrfFailed(ConsoleError):
    status_code = 403
    code = "csrf_failed"


class OperatorOnly(ConsoleError):
    status_code = 403
    code = "operator_only"


class NotFound(ConsoleError):
    status_code = 404
    code = "not_found"


class ServiceFailed(ConsoleError):
    """A lab service refused or did not answer; `detail` is its message, never a trace."""

    status_code = 502
    code = "service_error"

    def __init__(
        self, service: str, detail: str, *, status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(f"{service}: {detail}")
        self.service, self.status, self.upstream_code = service, status, code or "unreachable"


class StoreUnavailable(ConsoleError):
    status_code = 503
    code = "ops_db_unavailable"
