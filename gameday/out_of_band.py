"""Faults caused outside the chaos server, the way a person or a real outage causes them:
a psql session holding a lock, a SIGSTOP, an ALTER ROLE, a TRUNCATE, a filled cache dir.

Each maker `make()`s its fault and `clean()`s whatever the agent did not fix (returning what
it had to clean, empty when nothing was left), so the lab is whole for the next one.
"""

import errno
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psutil
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.polling import until
from lab.cache_volume import cache_budget, is_lab_mount
from lab.envfile import read_env
from lab.postgres import set_role_password
from lab.secrets import read_secret
from lab.services import APP_DB, APP_PASSWORD, APP_ROLE

FILL_PREFIX = "oob-fill-"
_CHUNKS = (2**20, 64 * 2**10, 4 * 2**10)


class OutOfBand(Protocol):
    """A fault made by hand."""

    fault: str  # the catalogue fault it amounts to

    def make(self, lab: GamedayLab) -> None: ...

    def clean(self, lab: GamedayLab) -> list[str]: ...


def _superuser(lab: GamedayLab, *, autocommit: bool = True) -> PgConnection:
    """A superuser session over the cluster's socket, named like an interactive psql."""
    return lab.target_db.connect(APP_DB, application_name="psql", autocommit=autocommit)


def _target_ready(lab: GamedayLab) -> bool:
    try:
        return lab.target.get("/ready", timeout=5.0).status_code == 200
    except Exception:
        return False


@dataclass
class LockingSession:
    """`BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE;` left open in a psql session."""

    table: str = "products"
    fault: str = "db-lock"
    conn: PgConnection | None = None

    def make(self, lab: GamedayLab) -> None:
        self.conn = _superuser(lab, autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '5s'")
            lock = "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE"
            cur.execute(sql.SQL(lock).format(sql.Identifier(self.table)))

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.conn is None:
            return []
        left = []
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
            left = ["the locking session was still alive"]
            self.conn.rollback()
        except Exception:  # terminated by the agent: nothing is held any more
            pass
        finally:
            self.conn.close()
        return left


@dataclass
class StoppedProcess:
    """`kill -STOP <pid>` of the target's process (pid from the lab's runtime)."""

    fault: str = "api-hang"
    pid: int | None = None

    def make(self, lab: GamedayLab) -> None:
        self.pid = lab.runtime.status("target").pid
        if self.pid is None:
            raise GamedayError("the target is not running")
        os.kill(self.pid, signal.SIGSTOP)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.pid is None:
            return []
        try:
            stopped = psutil.Process(self.pid).status() == psutil.STATUS_STOPPED
        except psutil.NoSuchProcess:  # restarted by the agent
            return []
        if not stopped:
            return []
        os.kill(self.pid, signal.SIGCONT)
        return [f"target pid {self.pid} was still stopped"]


@dataclass
class KilledProcess:
    """`kill -KILL <pid>` of the target's process: gone until something starts it again
    (the lab's supervisor does not restart the target by itself)."""

    fault: str = "api-crash"
    pid: int | None = None

    def make(self, lab: GamedayLab) -> None:
        self.pid = lab.runtime.status("target").pid
        if self.pid is None:
            raise GamedayError("the target is not running")
        os.kill(self.pid, signal.SIGKILL)

    def clean(self, lab: GamedayLab) -> list[str]:
        now = lab.runtime.status("target").pid
        if now is not None and now != self.pid and psutil.pid_exists(now):
            return []  # started again
        lab.runtime.restart("target")
        return ["the target was still down"]


@dataclass
class ChangedPassword:
    """`ALTER ROLE breakfix_app PASSWORD '...'` by a superuser: the app's credential is stale."""

    fault: str = "db-auth-failure"

    def make(self, lab: GamedayLab) -> None:
        self._set(lab, secrets.token_urlsafe(24))

    def clean(self, lab: GamedayLab) -> list[str]:
        # regenerate-env rewrote the lab's secret with the role's new password: setting the
        # secret's value again changes nothing then, and undoes the change otherwise.
        password = read_secret(lab.paths.secret(APP_PASSWORD))
        try:
            lab.target_db.log_in(role=APP_ROLE, password=password, dbname=APP_DB)
            return []
        except psycopg2.OperationalError:
            self._set(lab, password)
        lab.runtime.restart("target")  # its pool may hold nothing but refused logins now
        return ["the app's password was still changed"]

    @staticmethod
    def _set(lab: GamedayLab, password: str) -> None:
        conn = _superuser(lab)
        try:
            set_role_password(conn, role=APP_ROLE, password=password)
        finally:
            conn.close()


@dataclass
class TruncatedTable:
    """`TRUNCATE order_lines` by a superuser; its rows are kept in memory for the clean-up."""

    table: str = "order_lines"
    fault: str = "db-data-loss"
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def make(self, lab: GamedayLab) -> None:
        conn = _superuser(lab, autocommit=False)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(self.table)))
                self.columns = [d[0] for d in cur.description or ()]
                self.rows = list(cur.fetchall())
                cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(self.table)))
        finally:
            conn.close()

    def clean(self, lab: GamedayLab) -> list[str]:
        """Put back the rows still missing (by id), never duplicating restored ones."""
        if not self.rows:
            return []
        names = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        marks = sql.SQL(", ").join(sql.Placeholder() * len(self.columns))
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING").format(
            sql.Identifier(self.table), names, marks
        )
        conn = _superuser(lab, autocommit=False)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.table)))
                before = int((cur.fetchone() or (0,))[0])
                cur.execute("SELECT id FROM orders")
                orders = {int(r[0]) for r in cur.fetchall()}
                at = self.columns.index("order_id")
                cur.executemany(insert, [r for r in self.rows if r[at] in orders])
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.table)))
                after = int((cur.fetchone() or (0,))[0])
        finally:
            conn.close()
        return [f"{after - before} {self.table} rows were still missing"] if after > before else []


@dataclass
class FilledCache:
    """Files written into <state>/cache/target until the volume (or the budget) is full."""

    fault: str = "disk-fill"
    written: int = 0

    def make(self, lab: GamedayLab) -> None:
        cache = lab.paths.target_cache
        limit = None if is_lab_mount(cache) else cache_budget(read_env(lab.paths.target_env))
        n = 0
        for chunk in _CHUNKS:  # smaller and smaller, so not even a page is left
            block = b"\xa5" * chunk
            while limit is None or self.written < limit:
                n += 1
                try:
                    with (cache / f"{FILL_PREFIX}{n:06d}.bin").open("wb") as handle:
                        self.written += handle.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            if limit is not None:
                break

    def clean(self, lab: GamedayLab) -> list[str]:
        left = list(lab.paths.target_cache.glob(f"{FILL_PREFIX}*"))
        for path in left:
            path.unlink(missing_ok=True)
        return [f"{len(left)} fill files were still there"] if left else []


MAKERS: dict[str, Callable[[], OutOfBand]] = {
    "psql-lock": LockingSession,
    "sigstop": StoppedProcess,
    "sigkill": KilledProcess,
    "alter-role": ChangedPassword,
    "truncate": TruncatedTable,
    "filled-cache": FilledCache,
}


def settle(lab: GamedayLab, within_s: float = 60.0) -> bool:
    """Whether the target answers /ready 200 within `within_s` after a clean-up."""
    return until(lambda: _target_ready(lab), within_s, every_s=1.0)
