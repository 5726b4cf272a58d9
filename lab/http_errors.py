"""JSON error answers for the lab's servers: `{"detail": ..., "code": ...}` for every error.

A service declares its own error base class (with `status_code`, `code` and optionally
`headers`) and installs these handlers once; validation errors, HTTP errors and anything
unexpected get the same body shape, and the unexpected is logged, never shown.
A validation error names where and why, never echoes the input, and is bounded in size.
"""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

ErrorHook = Callable[[Request, Exception, str], None]  # request, error, the code answered

MAX_ERRORS = 20
MAX_ECHO_CHARS = 200  # of a location or message, which can quote a client's own text


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and why a request is invalid: FastAPI's `input` dropped, the rest bounded."""
    return [
        {"loc": [_bounded(part) for part in e["loc"]], "msg": _bounded(e["msg"]), "type": e["type"]}
        for e in exc.errors()[:MAX_ERRORS]
    ]


def _bounded(value: Any) -> Any:
    return value[:MAX_ECHO_CHARS] if isinstance(value, str) else value


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """The 422 answer to a request that fails validation."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_details(exc), "code": "validation_error"}, 422)


def error_response(exc: Exception) -> JSONResponse:
    """The answer to one of a service's own errors: its status, code, headers, extra fields."""
    status: int = getattr(exc, "status_code", 400)
    code: str = getattr(exc, "code", "bad_request")
    headers: dict[str, str] | None = getattr(exc, "headers", None)
    extra: dict[str, Any] = getattr(exc, "extra", None) or {}  # more fields of the body
    return JSONResponse({**extra, "detail": str(exc), "code": code}, status, headers=headers)


def install_json_errors(
    app: FastAPI,
    known: type[Exception],
    log: logging.Logger,
    *,
    on_error: ErrorHook | None = None,
    catch_unexpected: bool = True,
) -> None:
    """Handlers for `known` (the service's own errors) and for every other error family.

    `on_error(request, exc, code)` runs before each answer (e.g. to note the code for an
    audit). Without `catch_unexpected` the unexpected is left to the service's middleware.
    """

    def noted(request: Request, exc: Exception, code: str) -> None:
        if on_error is not None:
            on_error(request, exc, code)

    @app.exception_handler(known)
    async def _known(request: Request, exc: Exception) -> JSONResponse:
        noted(request, exc, getattr(exc, "code", "bad_request"))
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        noted(request, exc, "validation_error")
        return await invalid_request(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        noted(request, exc, code)
        return JSONResponse(
            {"detail": exc.detail, "code": code}, exc.status_code, headers=exc.headers
        )

    if catch_unexpected:

        @app.exception_handler(Exception)
        async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            noted(request, exc, "internal_error")
            return JSONResponse({"detail": "internal error", "code": "internal_error"}, 500)
