"""target-db from the inside: connections, headroom, locks and blockers, core tables, schema.

Reads as the lab superuser over the cluster's Unix socket (a reserved slot: it still gets in
when the app's slots are exhausted), on one kept connection with short statement and lock
timeouts. A locked table is never waited for: it is reported unreadable
(`pg_table_readable` 0), which is itself the signal of a lock.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg2
from psycopg2 import errorcodes, sql
from psycopg2.extensions import connection as PgConnection

from lab.postgres import SUPERUSER, Cluster
from observability.model import Collection, Sample

SERVICE = "target-db"
CORE_TABLES = ("products", "inventory", "orders", "order_lines")
STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)")
APP_NAME = "breakfix-observability"
# A table we cannot read in time is a finding, not a failure of the collector.
_UNREADABLE = {
    errorcodes.LOCK_NOT_AVAILABLE,
    errorcodes.QUERY_CANCELED,
    errorcodes.UNDEFINED_TABLE,
    errorcodes.INSUFFICIENT_PRIVILEGE,
}

ACTIVITY_BY_STATE = """
SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' GROUP BY 1"""
ACTIVITY_BY_APP = """
SELECT application_name, count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' GROUP BY 1"""
ORDINARY_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.backend_type = 'client backend' AND NOT coalesce(r.rolsuper, false)"""
SETTINGS = """
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
       + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int"""
WAITING_LOCKS = "SELECT count(*) FROM pg_locks WHERE NOT granted"
BLOCKING = """
WITH w AS (SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity)
SELECT (SELECT count(*) FROM w WHERE cardinality(blockers) > 0),
       (SELECT count(DISTINCT b) FROM w, unnest(w.blockers) AS b)"""
REVISION = "SELECT version_num FROM alembic_version"


@dataclass
class PgSnapshot:
    """The raw figures of one reading; `table_rows[t]` is None when `t` was unreadable."""

    by_state: dict[str, int]
    by_app: dict[str, int]
    total: int
    ordinary: int
    max_connections: int
    reserved: int
    waiting_locks: int
    blocked_sessions: int
    blocking_sessions: int
    table_rows: dict[str, int | None] = field(default_factory=dict)
    revision: str | None = None
    revision_readable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PgSnapshot":
        return cls(**data)


def _scalar(conn: PgConnection, query: str) -> Any:
    with conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    return None if row is None else row[0]


def _rows(conn: PgConnection, query: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query)
        return list(cur.fetchall())


def _readable(conn: PgConnection, query: sql.Composable | str) -> tuple[bool, Any]:
    """(True, first value) or (False, None) when locked, timed out or missing."""
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
    except psycopg2.Error as exc:
        if exc.pgcode in _UNREADABLE:
            return False, None
        raise
    return True, None if row is None else row[0]


def read_snapshot(conn: PgConnection, tables: tuple[str, ...] = CORE_TABLES) -> PgSnapshot:
    """Every figure the collector reports, read on an autocommit superuser connection."""
    settings = _rows(conn, SETTINGS)[0]
    blocking = _rows(conn, BLOCKING)[0]
    by_state = {str(s): int(n) for s, n in _rows(conn, ACTIVITY_BY_STATE)}
    snapshot = PgSnapshot(
        by_state=by_state,
        by_app={str(a): int(n) for a, n in _rows(conn, ACTIVITY_BY_APP)},
        total=sum(by_state.values()),
        ordinary=int(_scalar(conn, ORDINARY_CONNECTIONS)),
        max_connections=int(settings[0]),
        reserved=int(settings[1]),
        waiting_locks=int(_scalar(conn, WAITING_LOCKS)),
        blocked_sessions=int(blocking[0]),
        blocking_sessions=int(blocking[1]),
    )
    # Tables last: their reads may wait (up to lock_timeout) and must not appear as blocked.
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ok, count = _readable(conn, query)
        snapshot.table_rows[table] = int(count) if ok else None
    ok, revision = _readable(conn, REVISION)
    snapshot.revision_readable = ok
    snapshot.revision = str(revision) if ok and revision is not None else None
    return snapshot


def snapshot_samples(
    snapshot: PgSnapshot, *, head: str, now: float, known_apps: set[str] | None = None
) -> list[Sample]:
    """The samples of a snapshot; apps in `known_apps` but gone now are reported as 0."""

    def s(metric: str, value: float, **labels: str) -> Sample:
        return Sample(now, SERVICE, metric, float(value), tuple(labels.items()))

    out = [s("pg_up", 1)]
    for state in sorted(set(STATES) | set(snapshot.by_state)):
        out.append(s("pg_connections", snapshot.by_state.get(state, 0), state=state))
    for app in sorted(set(known_apps or ()) | set(snapshot.by_app)):
        out.append(s("pg_connections_by_app", snapshot.by_app.get(app, 0), app=app or "(none)"))
    headroom = snapshot.max_connections - snapshot.reserved - snapshot.ordinary
    out += [
        s("pg_connections_total", snapshot.total),
        s("pg_max_connections", snapshot.max_connections),
        s("pg_connection_headroom", max(headroom, 0)),
        s("pg_waiting_locks", snapshot.waiting_locks),
        s("pg_blocked_sessions", snapshot.blocked_sessions),
        s("pg_blocking_sessions", snapshot.blocking_sessions),
    ]
    for table, rows in snapshot.table_rows.items():
        out.append(s("pg_table_readable", 0 if rows is None else 1, table=table))
        if rows is not None:
            out.append(s("pg_table_rows", rows, table=table))
    if snapshot.revision_readable:
        revision = snapshot.revision or "none"
        out.append(s("pg_schema_at_head", 1 if snapshot.revision == head else 0))
        out.append(s("pg_schema_revision_info", 1, revision=revision))
    return out


class PostgresCollector:
    """Collector for target-db; pg_up 0 (not a failure) when the cluster refuses us."""

    name = "postgres"

    def __init__(
        self,
        *,
        cluster: Cluster,
        dbname: str,
        head_revision: str,
        statement_timeout_ms: int = 500,
        lock_timeout_ms: int = 100,
        connect_timeout_s: int = 2,
    ) -> None:
        self.cluster, self.dbname, self.head = cluster, dbname, head_revision
        # log_min_messages: our own cancelled reads must not show up as errors in the
        # server log, where the log collector would count them as the database's.
        self._options = (
            f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"
            " -c log_min_messages=fatal"
        )
        self._connect_timeout = connect_timeout_s
        self._conn: PgConnection | None = None
        self._apps: set[str] = set()
        self.last_error: str | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> PgConnection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(
                host=str(self.cluster.socket_dir),
                port=self.cluster.port,
                user=SUPERUSER,
                dbname=self.dbname,
                connect_timeout=self._connect_timeout,
                application_name=APP_NAME,
                options=self._options,
            )
            self._conn.autocommit = True
        return self._conn

    def collect(self, now: float) -> Collection:
        """One snapshot; a lost connection is dropped and reopened at the next run."""
        try:
            snapshot = read_snapshot(self._connection())
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if getattr(exc, "pgcode", None) is not None:
                raise  # the server answered with an error: it is up, the reading failed
            self.close()
            self.last_error = f"{type(exc).__name__}: {exc}".strip()
            return Collection(samples=[Sample(now, SERVICE, "pg_up", 0.0)])
        self.last_error = None
        samples = snapshot_samples(snapshot, head=self.head, now=now, known_apps=self._apps)
        self._apps |= set(snapshot.by_app)
        return Collection(samples=samples)
