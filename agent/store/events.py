"""Writing the agent's tables: the timeline event every step leaves, and JSON for jsonb."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.store.models import Event


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_json(value: Any) -> str:
    """A field value as JSON text (pydantic models dumped in JSON mode)."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return json.dumps(value, default=str)


def write_event(
    session: Session,
    incident_id: str,
    step: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    state_from: str | None = None,
    state_to: str | None = None,
) -> Event:
    """Insert one event of an incident's timeline in `session` (committed by the caller)."""
    row = (
        session.execute(
            text(
                "INSERT INTO agent_incident_events (incident_id, at, step, state_from,"
                " state_to, inputs, outputs) VALUES (:id, :at, :step, :sf, :st,"
                " CAST(:inputs AS jsonb), CAST(:outputs AS jsonb)) RETURNING *"
            ),
            {
                "id": incident_id,
                "at": utcnow(),
                "step": step,
                "sf": state_from,
                "st": state_to,
                "inputs": as_json(dict(inputs)),
                "outputs": as_json(dict(outputs)),
            },
        )
        .mappings()
        .one()
    )
    return Event.model_validate(dict(row))
