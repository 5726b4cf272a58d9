"""Agent errors: a status and a stable code each; one handler for the family."""

import logging

from fastapi import FastAPI

from lab.http_errors import install_json_errors

log = logging.getLogger("agent.api")


class AgentError(Exception):
    status_code, code = 400, "bad_request"


class Unauthorized(AgentError):
    status_code, code = 401, "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class IntakeTokenRequired(AgentError):
    """An approver's token on intake or silences: it answers approvals only."""

    status_code, code = 403, "intake_token_required"


class ApproverTokenRequired(AgentError):
    """The intake token on approve or deny: observability holds it too."""

    status_code, code = 403, "approver_token_required"


class ApproverMismatch(AgentError):
    """A name in the body that is not the presented token's."""

    status_code, code = 403, "approver_mismatch"


class IncidentNotFound(AgentError):
    status_code, code = 404, "incident_not_found"


class ReportNotReady(AgentError):
    status_code, code = 404, "report_not_ready"


class NotAwaitingApproval(AgentError):
    status_code, code = 409, "not_awaiting_approval"


class IllegalTransition(AgentError):
    status_code, code = 409, "illegal_transition"


class PayloadTooLarge(AgentError):
    status_code, code = 413, "payload_too_large"


class InvalidPayload(AgentError):
    status_code, code = 422, "invalid_payload"


class UnsupportedMediaType(AgentError):
    status_code, code = 415, "unsupported_media_type"


class StoreUnavailable(AgentError):
    status_code, code = 503, "ops_db_unavailable"


def install_handlers(app: FastAPI) -> None:
    """Bodies are `{"detail": ..., "code": ...}` for every error; the unexpected is logged."""
    install_json_errors(app, AgentError, log)
