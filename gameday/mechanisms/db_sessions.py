"""Database variants made by client sessions: locks held or queued, connections leaked."""

import contextlib
import threading
from dataclasses import dataclass, field

import psycopg2
from psycopg2.extensions import connection as PgConnection

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import port_of, run_sql, superuser
from lab.secrets import read_secret
from lab.services import APP_DB, APP_PASSWORD, APP_ROLE

MAX_LEAKED = 200


def _close(conn: PgConnection) -> bool:
    """Roll back and close; whether the session was still alive."""
    alive = False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        alive = True
    except Exception:  # terminated (by the agent) or cancelled: nothing is held any more
        pass
    with contextlib.suppress(Exception):
        conn.rollback()
    with contextlib.suppress(Exception):
        conn.close()
    return alive


@dataclass
class OpenTransaction:
    """`BEGIN; <statement>;` in a psql session left open (no COMMIT, no ROLLBACK)."""

    fault: str
    statement: str
    undo: str | None = None  # run at clean-up in case the statement was committed after all
    conn: PgConnection | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.conn = superuser(lab, autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '5s'")
            cur.execute(self.statement)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.conn is None:
            return []
        left = ["the open transaction was still alive"] if _close(self.conn) else []
        if self.undo:
            run_sql(lab, self.undo)
        return left


@dataclass
class MigrationBehindLongQuery:
    """db-lock--migration-queued-behind-long-query: an analytics transaction reading orders,
    a deploy's `ALTER TABLE orders ADD COLUMN note text` queued behind it, and every app
    query on orders queued behind the ALTER."""

    fault: str = "db-lock"
    reader: PgConnection | None = field(default=None, init=False)
    migration: PgConnection | None = field(default=None, init=False)
    thread: threading.Thread | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.reader = superuser(lab, autocommit=False, app="metabase")
        with self.reader.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders")
        self.migration = superuser(lab, app="alembic")
        self.thread = threading.Thread(target=self._migrate, daemon=True, name="mech-migration")
        self.thread.start()

    def _migrate(self) -> None:
        assert self.migration is not None
        with contextlib.suppress(Exception), self.migration.cursor() as cur:
            cur.execute("ALTER TABLE orders ADD COLUMN note text")

    def clean(self, lab: GamedayLab) -> list[str]:
        left = []
        if self.migration is not None:
            with contextlib.suppress(Exception):
                self.migration.cancel()
            if self.thread is not None:
                self.thread.join(timeout=10)
            with contextlib.suppress(Exception):
                self.migration.close()
        if self.reader is not None and _close(self.reader):
            left.append("the long transaction was still open")
        run_sql(lab, "ALTER TABLE orders DROP COLUMN IF EXISTS note")
        return left


@dataclass
class LeakedConnections:
    """Sessions opened as the app's role and never closed (a leaking cron job), each left
    `idle in transaction` when `in_transaction`, until the server refuses one more."""

    fault: str = "db-pool-exhaustion"
    in_transaction: bool = False
    conns: list[PgConnection] = field(default_factory=list)

    def make(self, lab: GamedayLab) -> None:
        password = read_secret(lab.paths.secret(APP_PASSWORD))
        port = port_of(lab, "target-db")
        for _ in range(MAX_LEAKED):
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1", port=port, user=APP_ROLE, password=password, dbname=APP_DB
                )
            except psycopg2.OperationalError:  # "too many clients already": the leak is full
                break
            if self.in_transaction:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")  # BEGIN is implicit: idle in transaction now
            self.conns.append(conn)

    def clean(self, lab: GamedayLab) -> list[str]:
        alive = sum(_close(c) for c in self.conns)
        self.conns.clear()
        return [f"{alive} leaked sessions were still open"] if alive else []


def forgotten_alter() -> OpenTransaction:
    """db-lock--forgotten-psql-alter."""
    return OpenTransaction(
        fault="db-lock",
        statement="ALTER TABLE products ADD COLUMN tmp_note text",
        undo="ALTER TABLE products DROP COLUMN IF EXISTS tmp_note",
    )


def batch_update() -> OpenTransaction:
    """db-lock--batch-update-holding-row-locks (products has no price column here: the
    batch rewrites every row's name to itself, which takes the same row locks)."""
    return OpenTransaction(fault="db-lock", statement="UPDATE products SET name = name")
