"""`GET /runs/{id}`, `POST /runs/{id}/undo` and `GET /audit`."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from action_server import runs
from action_server.audit import query_audit
from action_server.audit_ahead import write_ahead
from action_server.deps import Caller, Parts, require_scope
from action_server.errors import NotUndoable
from action_server.keys import Scope
from action_server.locks import target_lock
from action_server.schemas import AuditOut, RunOut, run_out

router = APIRouter()


@router.get("/runs/{run_id}")
def get_run(run_id: uuid.UUID, parts: Parts, key: Caller) -> RunOut:
    """One recorded run."""
    require_scope(key, Scope.read)
    parts.limits.hit(key_id=key.id, action_class="read")
    row = runs.get(store=parts.store, run_id=run_id)
    spec = parts.catalogue.get(row.action)
    return run_out(row, undoable=spec is not None and spec.revert is not None)


@router.post("/runs/{run_id}/undo", status_code=201)
def undo_run(run_id: uuid.UUID, request: Request, parts: Parts, key: Caller) -> RunOut:
    """Revert a run with the undo it recorded; the undo is recorded as a run."""
    request.state.audit_action = "undo"
    request.state.audit_params = {"run_id": str(run_id)}
    require_scope(key, Scope.act)
    original = runs.get(store=parts.store, run_id=run_id)
    spec = parts.catalogue.get(original.action)
    if spec is None:
        raise NotUndoable(f"{original.action} has no undo")
    parts.limits.hit(key_id=key.id, action_class=spec.risk.value)
    caller = runs.Caller(key_id=key.id, correlation_id=request.state.correlation_id)
    undo_run_id = uuid.uuid4()
    write_ahead(request=request, store=parts.store, run_id=undo_run_id)
    with target_lock(store=parts.store, targets=(spec.target, *spec.also_locks), wait_s=0.0):
        run = runs.undo(
            run_id=run_id,
            catalogue=parts.catalogue,
            ctx=parts.ctx,
            store=parts.store,
            caller=caller,
            undo_run_id=undo_run_id,
        )
    request.state.run_id, request.state.audit_outcome = run.id, run.status
    return run_out(run, undoable=False)


_FILTER = r"^[A-Za-z0-9:._-]{1,200}$"


@router.get("/audit")
def audit(
    parts: Parts,
    key: Caller,
    key_id: Annotated[str | None, Query(pattern=_FILTER)] = None,
    action: Annotated[str | None, Query(pattern=_FILTER)] = None,
    outcome: Annotated[str | None, Query(pattern=_FILTER)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Audit rows, newest first; admin scope. Times without a zone are taken as UTC."""
    require_scope(key, Scope.admin)
    parts.limits.hit(key_id=key.id, action_class="read")
    with parts.store.session() as session:
        rows = query_audit(
            session=session,
            key_id=key_id,
            action=action,
            outcome=outcome,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
        )
        return [AuditOut.model_validate(row) for row in rows]


def _utc(moment: datetime | None) -> datetime | None:
    """Any offset Python accepts, as UTC (Postgres refuses offsets past 15:59)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
