"""Admin access to target-db for the database actions: connections, row counts, sessions."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from lab.postgres import SUPERUSER, Cluster
from lab.services import APP_DB
from lab.tied import run_tied

ACTION_APP_NAME = "breakfix-action"
TARGET_APP_NAME = "breakfix-target"
CLIENT_TIMEOUT_S = 300.0
LOCK_TIMEOUT = "15s"  # a restore or migration behind a stuck lock fails instead of hanging
CHECKS_CLIENT_SINCE = 140000  # client_connection_check_interval came with Postgres 14
CLIENT_CHECK_MS = 1000


@contextmanager
def admin_connection(
    cluster: Cluster, dbname: str = APP_DB, *, application_name: str = ACTION_APP_NAME
) -> Iterator[PgConnection]:
    """A superuser connection over the Unix socket, named so blocker hunts leave it alone."""
    conn = cluster.connect(dbname, application_name=application_name)
    with closing(conn):
        yield conn


def client_env(
    *,
    lock_timeout: str | None = None,
    application_name: str = ACTION_APP_NAME,
    server_version: int = 0,
    password: str | None = None,
) -> dict[str, str]:
    """Environment for pg_dump/pg_restore: our application_name, no inherited libpq auth;
    the superuser's password where the cluster is reached over the network (in the tool's
    environment, which only its own user can read, never on its command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGAPPNAME"] = application_name
    if password is not None:
        env["PGPASSWORD"] = password
    env["PGCONNECT_TIMEOUT"] = "5"
    options = [f"-c lock_timeout={lock_timeout}"] if lock_timeout is not None else []
    if server_version >= CHECKS_CLIENT_SINCE:
        # A killed client's session ends within a second, even while it waits for a lock,
        # instead of holding what it has locked until its statement or lock wait ends.
        options.append(f"-c client_connection_check_interval={CLIENT_CHECK_MS}")
    if options:
        env["PGOPTIONS"] = " ".join(options)
    return env


def run_client(
    argv: list[str],
    *,
    ledger: Path,
    lock_timeout: str | None = None,
    application_name: str = ACTION_APP_NAME,
    server_version: int = 0,
    cluster: Cluster | None = None,
) -> "subprocess.CompletedProcess[str]":
    """Run a Postgres client tool as the action server (our app name, bounded time), tied
    to it: the tool dies with the action server (see lab.tied; `ledger` is its record).
    `server_version` (psycopg2's) turns on what the server supports; `cluster` is the one
    the tool connects to (its admin password, if it is reached over the network)."""
    env = client_env(
        lock_timeout=lock_timeout,
        application_name=application_name,
        server_version=server_version,
        password=cluster.admin_password if cluster is not None else None,
    )
    return run_tied(argv, env=env, timeout=CLIENT_TIMEOUT_S, ledger=ledger)


def client_args(cluster: Cluster) -> list[str]:
    """libpq connection flags for the cluster's client tools (its admin host: the socket, or
    TCP when administered over the network; port; superuser)."""
    return ["-h", cluster.admin_host, "-p", str(cluster.port), "-U", SUPERUSER]


def row_counts(conn: PgConnection) -> dict[str, int]:
    """Exact count(*) of every table in the public schema, by name."""
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        tables = [str(row[0]) for row in cur.fetchall()]
        for table in tables:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))
            row = cur.fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def max_ids(conn: PgConnection) -> dict[str, int]:
    """max(id) of every public table with an integer `id` column (0 when empty), by name."""
    found: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND column_name = 'id' AND data_type IN ('integer', 'bigint', 'smallint')"
            " ORDER BY 1"
        )
        tables = [str(row[0]) for row in cur.fetchall()]
        for table in tables:
            cur.execute(
                sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(
                    sql.Identifier("public", table)
                )
            )
            row = cur.fetchone()
            found[table] = int(row[0]) if row else 0
    return found


def counts_upto(conn: PgConnection, upto: dict[str, int], tables: set[str]) -> dict[str, int]:
    """For each of `tables` named in `upto`, its rows with id <= that: rows written after a
    snapshot's instant (higher ids) are left out."""
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        for table, top in upto.items():
            if table not in tables:
                continue
            cur.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE id <= %s").format(
                    sql.Identifier("public", table)
                ),
                (top,),
            )
            row = cur.fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def alembic_revision(conn: PgConnection) -> str | None:
    """The revision in public.alembic_version, or None when the table is absent or empty."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return None
        cur.execute("SELECT version_num FROM public.alembic_version LIMIT 1")
        found = cur.fetchone()
    return str(found[0]) if found else None


def target_sessions(conn: PgConnection) -> list[int]:
    """Pids of the target app's own sessions on the app database (never ours)."""
    return named_sessions(conn, TARGET_APP_NAME)


def named_sessions(conn: PgConnection, application_name: str) -> list[int]:
    """Pids of the sessions on the app database carrying `application_name` (never ours)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
            " AND pid <> pg_backend_pid()",
            (APP_DB, application_name),
        )
        return [int(row[0]) for row in cur.fetchall()]


@dataclass(frozen=True)
class ExclusiveLock:
    """A session holding (or queued for) an ACCESS EXCLUSIVE lock on a table of shop."""

    pid: int
    application_name: str
    relation: str
    granted: bool
    since: datetime | None  # the start of its transaction

    def describe(self) -> str:
        """`pid N ('name', holds ACCESS EXCLUSIVE on products since ...)`, for a record."""
        verb = "holds" if self.granted else "awaits"
        since = f" since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        return (
            f"pid {self.pid} ({self.application_name!r}, {verb} ACCESS EXCLUSIVE on "
            f"{self.relation}{since})"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for a run record."""
        return {**asdict(self), "since": self.since.isoformat() if self.since else None}


def exclusive_locks(conn: PgConnection) -> list[ExclusiveLock]:
    """Other clients' ACCESS EXCLUSIVE locks on the app database's tables, held or awaited:
    anything that reads a table (a dump, the app) waits behind either. (Autovacuum's brief
    truncation locks are left out: it gives them up to any waiter.)"""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT l.pid, coalesce(a.application_name, ''), l.relation::regclass::text,"
            " l.granted, a.xact_start"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND l.pid <> pg_backend_pid() AND a.backend_type = 'client backend'"
            " ORDER BY l.granted DESC, l.pid"
        )
        return [
            ExclusiveLock(
                pid=int(r[0]),
                application_name=str(r[1]),
                relation=str(r[2]),
                granted=bool(r[3]),
                since=r[4],
            )
            for r in cur.fetchall()
        ]


def terminate(conn: PgConnection, pids: list[int]) -> list[int]:
    """pg_terminate_backend each pid except our own; return those the server signalled."""
    done: list[int] = []
    with conn.cursor() as cur:
        for pid in pids:
            cur.execute("SELECT pg_terminate_backend(%s) WHERE %s <> pg_backend_pid()", (pid, pid))
            row = cur.fetchone()
            if row and row[0]:
                done.append(pid)
    return done


def database_size(conn: PgConnection) -> int:
    """On-disk size of the app database in bytes."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_database_size(%s)", (APP_DB,))
        row: Any = cur.fetchone()
    return int(row[0])
