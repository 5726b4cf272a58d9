"""Response bodies of the action server."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from action_server.audit_params import audited_params


class RunOut(BaseModel):
    """A recorded run of an action (dry runs included)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str
    params: dict[str, Any]
    dry_run: bool
    status: str
    summary: str
    changes: list[str]
    details: dict[str, Any]
    undo_available: bool
    undo_of: uuid.UUID | None
    undone_by: uuid.UUID | None
    error: str | None
    key_id: str | None
    correlation_id: str
    started_at: datetime
    finished_at: datetime
    duration_ms: float


class AuditOut(BaseModel):
    """One audit row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    key_id: str | None
    claimed_key_id: str | None
    method: str
    path: str
    action: str | None
    params: dict[str, Any] | None
    dry_run: bool
    outcome: str
    status_code: int
    error_code: str | None
    run_id: uuid.UUID | None
    duration_ms: float
    correlation_id: str

    # Rows written before parameters were always an object read back as one too.
    _params = field_validator("params", mode="before")(audited_params)


def run_out(row: Any, *, undoable: bool) -> RunOut:
    """The public view of a run row."""
    data = RunOut.model_validate(
        {
            **{c: getattr(row, c) for c in RunOut.model_fields if c != "undo_available"},
            "undo_available": undoable and row.undo is not None and row.undone_by is None,
        }
    )
    return data
