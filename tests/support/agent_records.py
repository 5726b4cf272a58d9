"""Rows the agent's store tests write directly: an action record with the usual defaults."""

from typing import Any

from agent.store import IncidentStore
from agent.store.models import ActionRecord


def record_run(
    store: IncidentStore,
    incident_id: str,
    step_no: int,
    status: str,
    *,
    action: str = "restart-api",
    target: str = "target",
    key: str | None = None,
    **fields: Any,
) -> ActionRecord:
    """`store.record_action` of `action` on `target` for a plan step; the idempotency key
    is "<incident>:<step>:1" unless `key` is given; `fields` are the optional columns."""
    return store.record_action(
        incident_id=incident_id,
        step_no=step_no,
        action=action,
        target=target,
        idempotency_key=key or f"{incident_id}:{step_no}:1",
        status=status,
        **fields,
    )
