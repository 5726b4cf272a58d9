"""Chaos server errors: each has an HTTP status and a stable code; one handler answers all."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger("chaos_server")


class ChaosError(Exception):
    """Base of every error the chaos server answers on purpose."""

    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None


class Unauthorized(ChaosError):
    status_code, code = 401, "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class TargetNotAllowed(ChaosError):
    status_code, code = 403, "target_not_allowed"


class UnknownFault(ChaosError):
    status_code, code = 404, "unknown_fault"


class FaultNotFound(ChaosError):
    status_code, code = 404, "not_found"


class KillSwitchEngaged(ChaosError):
    status_code, code = 409, "kill_switch_engaged"


class TooManyFaults(ChaosError):
    status_code, code = 409, "too_many_faults"


class TargetBusy(ChaosError):
    status_code, code = 409, "target_busy"


class PreconditionRefused(ChaosError):
    status_code, code = 409, "precondition_failed"


class InjectionFailed(ChaosError):
    status_code, code = 502, "injection_failed"


class RevertFailed(ChaosError):
    status_code, code = 502, "revert_failed"


class TtlOverMax(ChaosError):
    status_code, code = 422, "ttl_over_max"


class IntensityOverMax(ChaosError):
    status_code, code = 422, "intensity_over_max"


class InvalidParams(ChaosError):
    status_code, code = 422, "invalid_params"


class InvalidTarget(ChaosError):
    status_code, code = 422, "invalid_target"


class StoreUnavailable(ChaosError):
    status_code, code = 503, "ops_db_unavailable"


def install_handlers(app: FastAPI) -> None:
    """One handler per error family; bodies are `{"detail": ..., "code": ...}`."""

    @app.exception_handler(ChaosError)
    async def _known(request: Request, exc: ChaosError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "code": exc.code}, exc.status_code, headers=exc.headers
        )

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
