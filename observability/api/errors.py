"""Observability API errors: a status and a stable code; one handler for each family."""

import logging

from fastapi import FastAPI

from lab.http_errors import install_json_errors

log = logging.getLogger("observability.api")


class ObsError(Exception):
    status_code, code = 400, "bad_request"


class InvalidPattern(ObsError):
    status_code, code = 422, "invalid_pattern"


class SearchBusy(ObsError):
    status_code, code = 503, "search_busy"
    headers = {"Retry-After": "1"}


class UnknownService(ObsError):
    status_code, code = 404, "unknown_service"


def install_handlers(app: FastAPI) -> None:
    """Bodies are `{"detail": ..., "code": ...}` for every error; the unexpected is logged."""
    install_json_errors(app, ObsError, log)
