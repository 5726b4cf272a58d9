"""Action server errors: each has an HTTP status and a stable code; one handler answers all."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from lab.http_errors import invalid_request

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


def install_handlers(app: FastAPI) -> None:
    """One handler per error family; bodies are `{"detail": ..., "code": ...}`."""

    @app.exception_handler(ActionServerError)
    async def _known(request: Request, exc: ActionServerError) -> JSONResponse:
        request.state.error_code = exc.code
        body = {**(exc.extra or {}), "detail": str(exc), "code": exc.code}
        return JSONResponse(body, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        request.state.error_code = "validation_error"
        request.state.rejected_body = exc.body  # what the audit may keep of it
        return await invalid_request(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        request.state.error_code = code
        return JSONResponse(
            {"detail": exc.detail, "code": code}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        request.state.error_code = "internal_error"
        return JSONResponse({"detail": "internal error", "code": "internal_error"}, 500)
