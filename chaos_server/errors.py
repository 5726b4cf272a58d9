"""Chaos server errors: each has an HTTP status and a stable code; one handler answers all."""

import logging

from fastapi import FastAPI

from lab.http_errors import install_json_errors

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
    install_json_errors(app, ChaosError, log)
