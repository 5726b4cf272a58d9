"""The write-ahead fault ledger: the intent before any change, the state after each step."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chaos_server.models import OPEN_STATES, FaultRecord, FaultState


def now() -> datetime:
    return datetime.now(UTC)


def open_faults(session: Session) -> Sequence[FaultRecord]:
    """Every fault not yet reverted or failed, oldest first."""
    query = select(FaultRecord).where(FaultRecord.state.in_(OPEN_STATES))
    return session.scalars(query.order_by(FaultRecord.created_at)).all()


def count_open(session: Session, *, target: str | None = None) -> int:
    """How many faults are open (on `target` when given)."""
    query = select(func.count()).select_from(FaultRecord)
    query = query.where(FaultRecord.state.in_(OPEN_STATES))
    if target is not None:
        query = query.where(FaultRecord.target == target)
    return int(session.execute(query).scalar_one())


def record_intent(
    session: Session,
    *,
    fault_id: str,
    target: str,
    params: dict[str, Any],
    ttl_s: float,
    revert_data: dict[str, Any],
    injector: int,
    correlation_id: str,
) -> FaultRecord:
    """Write the intent (state `intended`) with what a revert needs; the caller commits."""
    created = now()
    row = FaultRecord(
        id=uuid.uuid4(),
        fault_id=fault_id,
        target=target,
        params=params,
        ttl_s=ttl_s,
        state=FaultState.intended,
        revert_data=revert_data,
        injector=injector,
        correlation_id=correlation_id,
        created_at=created,
        expires_at=created + timedelta(seconds=ttl_s),
    )
    session.add(row)
    return row


def mark_active(session: Session, fault: uuid.UUID, revert_data: dict[str, Any]) -> bool:
    """intended -> active with the revert data; False when a revert claimed it meanwhile."""
    injected = now()
    row = session.get(FaultRecord, fault)
    if row is None:
        return False
    result = session.execute(
        update(FaultRecord)
        .where(FaultRecord.id == fault, FaultRecord.state == FaultState.intended)
        .values(
            state=FaultState.active,
            revert_data={**row.revert_data, **revert_data},
            injected_at=injected,
            expires_at=injected + timedelta(seconds=row.ttl_s),
        )
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def claim_revert(
    session: Session, fault: uuid.UUID, *, reason: str, reverter: int, states: Sequence[str]
) -> FaultRecord | None:
    """Move the fault from one of `states` to `reverting`; None when another claimed it."""
    result = session.execute(
        update(FaultRecord)
        .where(FaultRecord.id == fault, FaultRecord.state.in_(states))
        .values(state=FaultState.reverting, revert_reason=reason, injector=reverter)
        .returning(FaultRecord)
        .execution_options(synchronize_session=False)
    )
    row = result.scalars().first()
    session.commit()
    return row


def finish(
    session: Session, fault: uuid.UUID, *, state: FaultState, error: str | None = None
) -> None:
    """Close the fault as reverted or failed."""
    session.execute(
        update(FaultRecord)
        .where(FaultRecord.id == fault)
        .values(state=state, reverted_at=now(), error=error)
    )
    session.commit()


def search(
    session: Session, *, state: str | None, fault_id: str | None, limit: int
) -> Sequence[FaultRecord]:
    """Faults newest first, filtered by state and fault id."""
    query = select(FaultRecord)
    if state is not None:
        query = query.where(FaultRecord.state == state)
    if fault_id is not None:
        query = query.where(FaultRecord.fault_id == fault_id)
    return session.scalars(query.order_by(FaultRecord.created_at.desc()).limit(limit)).all()
