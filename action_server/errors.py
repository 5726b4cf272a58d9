"""Action server errors: each has an HTTP status and a stable code; one handler answers all."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from lab.http_errors import install_json_errors

log = logging.getLogger("action_server")


class ActionServerError(Exception):
    """Base of every error the action server answers on purpose."""

    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None
    extra: dict[str, Any] | None = None  # more fields of the response body


class Unauthorized(ActionServerError):
    status_code, code = 401, "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ActionServerError):
    status_code, code = 403, "forbidden"


class NotFound(ActionServerError):
    status_code, code = 404, "not_found"


class PreconditionRefused(ActionServerError):
    status_code, code = 409, "precondition_failed"


class TargetBusy(ActionServerError):
    """Another run holds the target: the body says which (`holder`), and when to retry."""

    status_code, code = 409, "target_busy"

    def __init__(
        self, message: str, *, holder: dict[str, Any] | None = None, retry_after_s: int
    ) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}
        self.extra = {"holder": holder}


class NotSupported(ActionServerError):
    status_code, code = 409, "not_supported"


class NotUndoable(ActionServerError):
    status_code, code = 409, "not_undoable"


class IdempotencyConflict(ActionServerError):
    status_code, code = 422, "idempotency_key_reused"


class IdempotencyInProgress(ActionServerError):
    status_code, code = 409, "idempotency_in_progress"


class RateLimited(ActionServerError):
    status_code, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}


class StoreUnavailable(ActionServerError):
    status_code, code = 503, "ops_db_unavailable"


def _note_error(request: Request, exc: Exception, code: str) -> None:
    request.state.error_code = code
    if isinstance(exc, RequestValidationError):
        request.state.rejected_body = exc.body  # what the audit may keep of it


def install_handlers(app: FastAPI) -> None:
    """One handler per error family; bodies are `{"detail": ..., "code": ...}`."""
    install_json_errors(app, ActionServerError, log, on_error=_note_error)
