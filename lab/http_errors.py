"""JSON error answers for the lab's servers: `{"detail": ..., "code": ...}` for every error.

A service declares its own error base class (with `status_code`, `code` and optionally
`headers`) and installs these handlers once; validation errors, HTTP errors and anything
unexpected get the same body shape, and the unexpected is logged, never shown.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


def install_json_errors(app: FastAPI, known: type[Exception], log: logging.Logger) -> None:
    """Handlers for `known` (the service's own errors) and for every other error family."""

    @app.exception_handler(known)
    async def _known(request: Request, exc: Exception) -> JSONResponse:
        status: int = getattr(exc, "status_code", 400)
        code: str = getattr(exc, "code", "bad_request")
        headers: dict[str, str] | None = getattr(exc, "headers", None)
        return JSONResponse({"detail": str(exc), "code": code}, status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors, "code": "validation_error"}, 422)

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
