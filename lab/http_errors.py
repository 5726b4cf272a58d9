"""JSON error answers for the lab's servers: `{"detail": ..., "code": ...}` for every error.

A service declares its own error base class (with `status_code`, `code` and optionally
`headers`) and installs these handlers once; validation errors, HTTP errors and anything
unexpected get the same body shape, and the unexpected is logged, never shown.
A validation error names where and why, never echoes the input, and is bounded in size.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


def install_json_errors(app: FastAPI, known: type[Exception], log: logging.Logger) -> None:
    """Handlers for `known` (the service's own errors) and for every other error family."""

    @app.exception_handler(known)
    async def _known(request: Request, exc: Exception) -> JSONResponse:
        status: int = getattr(exc, "status_code", 400)
        code: str = getattr(exc, "code", "bad_request")
        headers: dict[str, str] | None = getattr(exc, "headers", None)
        return JSONResponse({"detail": str(exc), "code": code}, status, headers=headers)

    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"detail": exc.detail, "code": code}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error", "code": "internal_error"}, 500)
