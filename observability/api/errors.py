"""Observability API errors: a status and a stable code; one handler for each family."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class ObsError(Exception):
    status_code, code = 400, "bad_request"


class InvalidPattern(ObsError):
    status_code, code = 422, "invalid_pattern"


class UnknownService(ObsError):
    status_code, code = 404, "unknown_service"


def install_handlers(app: FastAPI) -> None:
    """Bodies are `{"detail": ..., "code": ...}` for every error."""

    @app.exception_handler(ObsError)
    async def _known(request: Request, exc: ObsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": exc.code}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors, "code": "validation_error"}, 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"detail": exc.detail, "code": code}, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "internal error", "code": "internal_error"}, 500)
