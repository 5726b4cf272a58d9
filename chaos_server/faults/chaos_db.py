"""How Postgres faults reach target-db: as the chaos role, over the cluster's Unix socket."""

import time
from collections.abc import Iterable, Sequence

import psycopg2
from psycopg2.extensions import connection as PgConnection

from lab.chaos_role import CHAOS_ROLE
from lab.postgres import Cluster
from lab.services import APP_DB

# libpq reports a refused connection without a SQLSTATE; these are the server's messages.
_FULL = ("too many clients", "remaining connection slots are reserved")
SETTLE_TIMEOUT_S = 10.0


def connect(
    cluster: Cluster, *, application_name: str, dbname: str = APP_DB, autocommit: bool = True
) -> PgConnection:
    """A chaos-role connection: not a superuser, so never in a reserved slot."""
    return cluster.connect(
        dbname, user=CHAOS_ROLE, application_name=application_name, autocommit=autocommit
    )


def server_full(exc: psycopg2.Error) -> bool:
    """Whether a connection was refused because no slot is left for a non-superuser."""
    return any(text in str(exc) for text in _FULL)


def connect_for_cleanup(cluster: Cluster, *, application_name: str) -> PgConnection:
    """A chaos-role connection, or a superuser one when every ordinary slot is taken.

    The superuser is unavoidable there: a revert must end leftover sessions even while a
    connection hog (ours or another chaos instance's) fills the server, and only the
    reserved slots are left then.
    """
    try:
        return connect(cluster, application_name=application_name)
    except psycopg2.OperationalError as exc:
        if not server_full(exc):
            raise
        return cluster.connect(APP_DB)


def end_sessions(
    cluster: Cluster,
    *,
    sessions: Iterable[Sequence[object]],
    application_name: str,
    timeout: float = SETTLE_TIMEOUT_S,
) -> int:
    """Terminate the sessions that are still ours and wait until they are gone.

    A session is ours only with the same pid, backend start and application name, so a
    reused pid is never touched. Returns how many were still there.
    """
    rows = list(sessions)
    pids = [int(str(s[0])) for s in rows]
    starts = [None if s[1] is None else str(s[1]) for s in rows]
    if not pids:
        return 0
    conn = connect_for_cleanup(cluster, application_name=f"{application_name}-cleanup")
    try:
        with conn.cursor() as cur:
            query = (
                "SELECT pid FROM pg_stat_activity a"
                " JOIN unnest(%s::int[], %s::text[]) AS s(pid, started) USING (pid)"
                " WHERE a.backend_start::text = s.started AND a.application_name = %s"
            )
            cur.execute(query, (pids, starts, application_name))
            found = [int(row[0]) for row in cur.fetchall()]
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS p(pid)", (found,)
            )
            deadline = time.monotonic() + timeout
            while True:
                cur.execute(query, (pids, starts, application_name))
                left = [int(row[0]) for row in cur.fetchall()]
                if not left:
                    return len(found)
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"chaos sessions {left} still connected after {timeout:.0f}s"
                    )
                time.sleep(0.05)
    finally:
        conn.close()
