"""Sessions on the target database: who blocks whom, and which are not the app's."""

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg2.extensions import connection as PgConnection

from action_server.db_admin import ACTION_APP_NAME, TARGET_APP_NAME

_SECRET_SQL = re.compile(r"password|passwd|secret", re.IGNORECASE)
QUERY_CHARS = 120


@dataclass
class DbSession:
    """One client backend of target-db (never our own)."""

    pid: int
    database: str | None
    usename: str | None
    application_name: str
    state: str | None
    wait: str | None
    query: str
    blocked_by: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    reason: str = ""

    def describe(self) -> dict[str, Any]:
        """The session as a plan or outcome shows it."""
        return asdict(self)

    @property
    def is_app(self) -> bool:
        """The target app's own session (by application_name)."""
        return self.application_name == TARGET_APP_NAME

    @property
    def is_ours(self) -> bool:
        """The action server's own session (by application_name)."""
        return self.application_name == ACTION_APP_NAME


def sessions(conn: PgConnection) -> list[DbSession]:
    """Every other client backend of the cluster (any database: idle hogs of another
    database use up max_connections too), with its blockers and the sessions it blocks."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid, usename, coalesce(application_name, ''), state,"
            " wait_event_type || ':' || wait_event, coalesce(query, ''), pg_blocking_pids(pid),"
            " datname"
            " FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " ORDER BY pid"
        )
        rows = cur.fetchall()
    found = {
        int(r[0]): DbSession(
            pid=int(r[0]),
            database=r[7],
            usename=r[1],
            application_name=str(r[2]),
            state=r[3],
            wait=r[4],
            query=_shown_query(str(r[5])),
            blocked_by=[int(p) for p in (r[6] or [])],
        )
        for r in rows
    }
    for waiting in found.values():
        for pid in waiting.blocked_by:
            if pid in found:
                found[pid].blocks.append(waiting.pid)
    return list(found.values())


def classify(all_sessions: list[DbSession]) -> tuple[list[DbSession], list[DbSession]]:
    """(sessions to terminate, blocking sessions that are protected and only reported)."""
    candidates: list[DbSession] = []
    protected: list[DbSession] = []
    for s in all_sessions:
        if s.is_app:  # only the app is protected: a name is all we have to go on
            if s.blocks:
                s.reason = f"blocks {s.blocks} but is the target app's session: never terminated"
                protected.append(s)
            continue
        if s.is_ours and not s.blocks:
            # The action server's own: a connection it has just closed shows here until
            # its backend exits, and terminating it gains nothing. Blocking, it is fair game.
            continue
        if s.blocks:
            s.reason = f"blocks sessions {s.blocks}"
        else:
            s.reason = f"not the app's connection (application_name {s.application_name!r})"
        candidates.append(s)
    return candidates, protected


def foreign_blockers(all_sessions: list[DbSession]) -> list[DbSession]:
    """Sessions that are not the app's yet block a waiting session."""
    return [s for s in all_sessions if s.blocks and not s.is_app]


def _shown_query(query: str) -> str:
    """The first characters of a query, unless it may carry a secret."""
    if _SECRET_SQL.search(query):
        return "<hidden: the statement mentions a password or secret>"
    return query[:QUERY_CHARS]
