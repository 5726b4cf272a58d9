"""`/kill`: the kill switch (revert everything, then refuse new faults until released)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from chaos_server.auth import require_chaos_key
from chaos_server.deps import CorrelationId, Parts
from chaos_server.kill import kill, kill_state, release_kill
from chaos_server.schemas import KillOut, KillRequest

router = APIRouter(prefix="/kill", dependencies=[Depends(require_chaos_key)])


@router.post("")
def engage(
    parts: Parts,
    correlation: CorrelationId,
    body: Annotated[KillRequest | None, Body()] = None,
) -> KillOut:
    """Engage the latch and revert every open fault."""
    reason = body.reason if body is not None else "kill switch"
    return KillOut(**kill(parts=parts, reason=reason, correlation_id=correlation))


@router.post("/release")
def release(parts: Parts, correlation: CorrelationId) -> KillOut:
    """Release the latch."""
    return KillOut(**release_kill(parts=parts, correlation_id=correlation))


@router.get("")
def state(parts: Parts) -> KillOut:
    """The latch as stored in ops-db."""
    return KillOut(**kill_state(parts=parts))
