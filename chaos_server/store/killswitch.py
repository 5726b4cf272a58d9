"""The kill switch latch: one ops-db row, so it survives a restart of the chaos server."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaos_server.models import KillSwitch


def latch(session: Session, *, for_update: bool = False) -> KillSwitch:
    """The latch row (created by the migration; recreated if someone deleted it)."""
    query = select(KillSwitch).where(KillSwitch.id == 1)
    row = session.scalars(query.with_for_update() if for_update else query).first()
    if row is None:
        row = KillSwitch(id=1, engaged=False)
        session.add(row)
        session.flush()
    return row


def engage(session: Session, *, reason: str) -> KillSwitch:
    """Engage the latch (kept as first engaged when it already is); commits."""
    row = latch(session, for_update=True)
    if not row.engaged:
        row.engaged, row.engaged_at, row.reason = True, datetime.now(UTC), reason
    session.commit()
    return row


def release(session: Session) -> KillSwitch:
    """Release the latch; commits."""
    row = latch(session, for_update=True)
    row.engaged, row.engaged_at, row.reason = False, None, None
    session.commit()
    return row
