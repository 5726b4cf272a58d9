"""The kill switch: latch first (nothing new gets in), then revert every open fault."""

from typing import Any

from chaos_server.models import FaultState
from chaos_server.parts import ChaosParts
from chaos_server.reverter import revert_all
from chaos_server.store.events import record_event
from chaos_server.store.killswitch import engage, latch, release
from chaos_server.store.lease import lock_admission


def kill(*, parts: ChaosParts, reason: str, correlation_id: str) -> dict[str, Any]:
    """Engage the latch and revert everything; what was reverted and what failed."""
    with parts.store.session() as session:
        lock_admission(session)  # no injection is admitted between the latch and the sweep
        row = engage(session, reason=reason)
    parts.metrics.kill_engaged.set(1)
    rows = revert_all(parts=parts, reason="kill", data={"kill_correlation_id": correlation_id})
    reverted = [str(r.id) for r in rows if r.state == FaultState.reverted]
    failed = [str(r.id) for r in rows if r.state == FaultState.failed]
    record_event(
        parts.store,
        kind="kill",
        message=f"kill switch engaged: {len(reverted)} reverted, {len(failed)} failed",
        correlation_id=correlation_id,
        data={"reason": reason, "reverted": reverted, "failed": failed},
    )
    return {
        "engaged": True,
        "engaged_at": row.engaged_at,
        "reason": row.reason,
        "reverted": reverted,
        "failed": failed,
    }


def release_kill(*, parts: ChaosParts, correlation_id: str) -> dict[str, Any]:
    """Release the latch: new faults are accepted again."""
    with parts.store.session() as session:
        release(session)
    parts.metrics.kill_engaged.set(0)
    record_event(
        parts.store,
        kind="kill_release",
        message="kill switch released",
        correlation_id=correlation_id,
    )
    return {"engaged": False, "engaged_at": None, "reason": None}


def kill_state(*, parts: ChaosParts) -> dict[str, Any]:
    """The latch as stored."""
    with parts.store.session() as session:
        row = latch(session)
        session.commit()
        return {"engaged": row.engaged, "engaged_at": row.engaged_at, "reason": row.reason}
