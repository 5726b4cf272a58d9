"""Write-ahead audit: a request that acts has its audit row before it acts.

The audit middleware writes a request's row once it is answered, so a server killed while
acting left none. A request that is about to act writes its row as `started` first; the
middleware completes that same row, or, when the server died, the next one completes it
as `interrupted` at start-up (`interrupt_started`).
"""

import uuid

from fastapi import Request
from sqlalchemy import update

from action_server.audit import audit_entry
from action_server.models import AuditEntry
from action_server.store import Store

STARTED, INTERRUPTED = "started", "interrupted"
NO_ANSWER = 0  # the status code of a request that was never answered


def write_ahead(*, request: Request, store: Store, run_id: uuid.UUID) -> None:
    """Write the request's audit row as `started`, naming the run it is about to make
    (the middleware's completion names the run only if it was made)."""
    entry = audit_entry(request, status=NO_ANSWER, elapsed_s=0.0)
    entry.outcome, entry.run_id = STARTED, run_id
    with store.session() as session:
        session.add(entry)
        session.commit()
        request.state.audit_id = entry.id


def interrupt_started(*, store: Store) -> int:
    """At start-up: rows still `started` were written by a server that stopped while acting;
    complete them as `interrupted` (their time is when the request began)."""
    with store.session() as session:
        result = session.execute(
            update(AuditEntry)
            .where(AuditEntry.outcome == STARTED)
            .values(outcome=INTERRUPTED, error_code=INTERRUPTED)
        )
        session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
