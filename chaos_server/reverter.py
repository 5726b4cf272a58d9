"""Reverting one fault: claim it (state `reverting`), undo it, record the outcome."""

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chaos_server.models import OPEN_STATES, FaultRecord, FaultState
from chaos_server.parts import ChaosParts
from chaos_server.store.events import record_event
from chaos_server.store.ledger import claim_revert, finish, open_faults
from lab.redaction import redact

log = logging.getLogger("chaos_server.revert")
CLAIMABLE = (FaultState.intended, FaultState.active)
# Every open fault at once (up to this many): one revert that waits on its victim, such as a
# hook call into a frozen target, must not hold back the revert that thaws it.
MAX_PARALLEL_REVERTS = 32


def revert_fault(
    *,
    parts: ChaosParts,
    fault: uuid.UUID,
    reason: str,
    states: Sequence[str] = CLAIMABLE,
    data: dict[str, object] | None = None,
) -> FaultRecord | None:
    """Revert `fault` if it is in one of `states`; the row as it ends up (None: unknown id)."""
    with parts.store.session() as session:
        row = claim_revert(session, fault, reason=reason, reverter=parts.lease.key, states=states)
        if row is None:
            return session.get(FaultRecord, fault)
    spec = parts.catalogue.get(row.fault_id)
    error: str | None = None
    try:
        if spec is None:
            raise LookupError(f"fault {row.fault_id!r} is not in this server's catalogue")
        spec.revert(parts.ctx, row.revert_data)
    except Exception as exc:
        log.exception("revert of %s (%s) failed", row.id, row.fault_id)
        error = str(redact(f"{type(exc).__name__}: {exc}"))
    state = FaultState.failed if error else FaultState.reverted
    with parts.store.session() as session:
        finish(session, fault, state=state, error=error)
        updated = session.get(FaultRecord, fault)
    outcome = "failed" if error else "ok"
    parts.metrics.reverts.labels(row.fault_id, reason, outcome).inc()
    record_event(
        parts.store,
        kind="expired" if reason == "expired" else "revert" if not error else "revert_failed",
        message=f"{row.fault_id} on {row.target}: revert ({reason}) {outcome}",
        correlation_id=row.correlation_id,
        fault=row.id,
        fault_id=row.fault_id,
        target=row.target,
        data={"reason": reason, "error": error, **(data or {})},
    )
    return updated


def revert_all(
    *, parts: ChaosParts, reason: str, data: dict[str, object] | None = None
) -> list[FaultRecord]:
    """Revert every open fault at once (reverting ones included: reverts are idempotent)."""
    with parts.store.session() as session:
        ids = [row.id for row in open_faults(session)]
    if not ids:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_REVERTS, len(ids))) as pool:
        rows = pool.map(
            lambda i: revert_fault(
                parts=parts, fault=i, reason=reason, states=OPEN_STATES, data=data
            ),
            ids,
        )
        return [r for r in rows if r is not None]
