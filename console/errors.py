"""The console's errors: each a status and a stable code, rendered as a message page."""


class ConsoleError(Exception):
    """Base of every error the console answers on purpose."""

    status_code, code = 400, "bad_request"


class LoginRequired(ConsoleError):
    status_code, code = 401, "login_required"


class CsrfFailed(ConsoleError):
    status_code, code = 403, "csrf_failed"


class OperatorOnly(ConsoleError):
    status_code, code = 403, "operator_only"


class NotFound(ConsoleError):
    status_code, code = 404, "not_found"


class ServiceFailed(ConsoleError):
    """A lab service refused or did not answer; `detail` is its message, never a trace."""

    status_code, code = 502, "service_error"

    def __init__(
        self, service: str, detail: str, *, status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(f"{service}: {detail}")
        self.service, self.status, self.upstream_code = service, status, code or "unreachable"


class StoreUnavailable(ConsoleError):
    status_code, code = 503, "ops_db_unavailable"
