"""`/break/{fault_id}`, `/faults`, `/catalogue`: inject, list, show and revert faults."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chaos_server.auth import require_chaos_key
from chaos_server.deps import CorrelationId, Parts
from chaos_server.errors import ChaosError, FaultNotFound
from chaos_server.injector import break_fault
from chaos_server.models import FaultRecord
from chaos_server.reverter import revert_fault
from chaos_server.schemas import BreakRequest, BreakResponse, FaultOut, StateName
from chaos_server.store.ledger import open_faults, search

router = APIRouter(dependencies=[Depends(require_chaos_key)])


@router.get("/catalogue")
def catalogue(parts: Parts) -> list[dict[str, Any]]:
    """Every fault this server can inject, with its targets, parameters and maximums."""
    return [fault.describe() for fault in parts.catalogue.values()]


@router.post("/break/{fault_id}", status_code=201)
def break_(
    fault_id: str, body: BreakRequest, parts: Parts, correlation: CorrelationId
) -> BreakResponse:
    """Inject a fault; refused with 403/404/409/422 and a stable code when out of bounds."""
    try:
        row = break_fault(
            parts=parts,
            fault_id=fault_id,
            target=body.target,
            params=body.params,
            ttl_s=body.ttl_s,
            correlation_id=correlation,
        )
    except ChaosError as exc:
        parts.metrics.refusals.labels(exc.code).inc()
        raise
    return BreakResponse(
        id=row.id,
        fault_id=row.fault_id,
        target=row.target,
        correlation_id=row.correlation_id,
        expires_at=row.expires_at,
    )


@router.get("/faults")
def list_faults(
    parts: Parts,
    state: StateName | None = None,
    fault_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FaultOut]:
    """Faults newest first, open and past, filtered by state and fault id."""
    with parts.store.session() as session:
        rows = search(session, state=state, fault_id=fault_id, limit=limit)
        return [FaultOut.model_validate(row) for row in rows]


@router.delete("/faults")
def revert_correlated(
    parts: Parts, correlation_id: Annotated[str, Query(min_length=1, max_length=128)]
) -> list[FaultOut]:
    """Revert every open fault injected under `correlation_id` (e.g. a Chaos Toolkit rollback)."""
    with parts.store.session() as session:
        ids = [row.id for row in open_faults(session) if row.correlation_id == correlation_id]
    rows = [revert_fault(parts=parts, fault=fault, reason="requested") for fault in ids]
    return [FaultOut.model_validate(row) for row in rows if row is not None]


@router.get("/faults/{fault}")
def get_fault(fault: uuid.UUID, parts: Parts) -> FaultOut:
    """One fault."""
    with parts.store.session() as session:
        row = session.get(FaultRecord, fault)
        if row is None:
            raise FaultNotFound(f"no fault {fault}")
        return FaultOut.model_validate(row)


@router.delete("/faults/{fault}")
def delete_fault(fault: uuid.UUID, parts: Parts) -> FaultOut:
    """Revert one fault now (a closed fault is answered as it is)."""
    row = revert_fault(parts=parts, fault=fault, reason="requested")
    if row is None:
        raise FaultNotFound(f"no fault {fault}")
    return FaultOut.model_validate(row)
