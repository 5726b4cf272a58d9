"""Database variants made by an administrator: server configuration, roles, data, schema."""

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import (
    ensure_target,
    run_sql,
    superuser,
    target_env,
    terminate_app_sessions,
)
from gameday.mechanisms.cgroups import Cgroup
from gameday.polling import until
from lab.envfile import write_env
from lab.postgres import set_role_password
from lab.secrets import read_secret, replace_secret
from lab.services import APP_PASSWORD, APP_ROLE


class CannotMake(GamedayError):
    """The variant's `how` cannot happen on this lab's data (counted as not reproducible)."""


def _db_up(lab: GamedayLab) -> bool:
    try:
        superuser(lab).close()
    except psycopg2.OperationalError:
        return False
    return True


@dataclass
class BadServerConfig:
    """db-down--bad-config-fails-restart: `shared_buffers = 128MBB` in postgresql.conf,
    then a restart that never comes back."""

    fault: str = "db-down"
    conf: Path | None = field(default=None, init=False)
    before: str | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.conf = lab.target_db.data_dir / "postgresql.conf"
        self.before = self.conf.read_text()
        self.conf.write_text(self.before + "\nshared_buffers = 128MBB  # tuning, ticket OPS-1234\n")
        with contextlib.suppress(Exception):  # it fails to start: that is the variant
            lab.runtime.restart("target-db")

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.conf is None or self.before is None:
            return []
        left = []
        if self.conf.read_text() != self.before:
            self.conf.write_text(self.before)
            left.append("postgresql.conf still had the bad value")
        if not _db_up(lab):
            with contextlib.suppress(Exception):
                lab.runtime.restart("target-db")
            until(lambda: _db_up(lab), 60.0, every_s=1.0)
            left.append("target-db was still down")
        return left + ensure_target(lab)


_HUNGRY = "SELECT * FROM generate_series(1, 50000000) g ORDER BY random()"


@dataclass
class MemoryKilledPostgres:
    """db-down--oom-killed-postmaster: Postgres under a 192 MiB memory limit and an analyst's
    sort with work_mem = 1GB, until the kernel's OOM killer steps in."""

    fault: str = "db-down"
    group: Cgroup | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        pid = lab.runtime.status("target-db").pid
        if pid is None:
            raise GamedayError("target-db is not running")
        self.group = Cgroup("memory", f"breakfix-mech-pg-{pid}")
        self.group.create()
        self.group.add(pid)
        self.group.set("memory.limit_in_bytes", str(192 * 2**20))
        threading.Thread(target=self._query, args=(lab,), daemon=True).start()
        time.sleep(20.0)  # the sort grows until the limit kills it

    @staticmethod
    def _query(lab: GamedayLab) -> None:
        with contextlib.suppress(Exception):
            conn = superuser(lab, app="analyst")
            with conn.cursor() as cur:
                cur.execute("SET work_mem = '1GB'")
                cur.execute(_HUNGRY)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.group is None:
            return []
        left = ["target-db was still under the memory limit"] if self.group.members() else []
        self.group.remove()
        if not until(lambda: _db_up(lab), 30.0, every_s=1.0):
            with contextlib.suppress(Exception):
                lab.runtime.restart("target-db")
            left.append("target-db was still down")
        return left + ensure_target(lab)


@dataclass
class RoleChange:
    """`ALTER ROLE breakfix_app ...` by an administrator, undone at clean-up."""

    fault: str
    change: str
    undo: str
    recycle: bool = False  # end the app's pooled sessions, as pool recycling would

    def make(self, lab: GamedayLab) -> None:
        run_sql(lab, self.change.format(role=APP_ROLE))
        if self.recycle:
            terminate_app_sessions(lab)

    def clean(self, lab: GamedayLab) -> list[str]:
        run_sql(lab, self.undo.format(role=APP_ROLE))
        if self.recycle:
            terminate_app_sessions(lab)
        return ensure_target(lab)


@dataclass
class HbaReject:
    """db-auth-failure--pg-hba-change: a hardening line rejecting the app's role over TCP,
    then `SELECT pg_reload_conf()`."""

    fault: str = "db-auth-failure"
    hba: Path | None = field(default=None, init=False)
    before: str | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.hba = lab.target_db.data_dir / "pg_hba.conf"
        self.before = self.hba.read_text()
        line = f"host all {APP_ROLE} 127.0.0.1/32 reject  # hardening CHG-42\n"
        self.hba.write_text(line + self.before)
        run_sql(lab, "SELECT pg_reload_conf()")

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.hba is None or self.before is None:
            return []
        left = []
        if self.hba.read_text() != self.before:
            self.hba.write_text(self.before)
            run_sql(lab, "SELECT pg_reload_conf()")
            left.append("pg_hba.conf still rejected the app")
        return left + ensure_target(lab)


@dataclass
class RotationWithoutRestart:
    """db-auth-failure--rotation-without-restart: a new password set on the role and written
    to the env file (and the lab's secret), the API not restarted; its pooled sessions are
    then recycled and the new ones log in with the old password."""

    fault: str = "db-auth-failure"

    def make(self, lab: GamedayLab) -> None:
        new = secrets.token_urlsafe(24)
        conn = superuser(lab)
        try:
            set_role_password(conn, role=APP_ROLE, password=new)
        finally:
            conn.close()
        old = read_secret(lab.paths.secret(APP_PASSWORD))
        replace_secret(lab.paths.secret(APP_PASSWORD), new)
        env = target_env(lab)
        env["TARGET_DATABASE_URL"] = env["TARGET_DATABASE_URL"].replace(f":{old}@", f":{new}@")
        write_env(lab.paths.target_env, env)
        terminate_app_sessions(lab)

    def clean(self, lab: GamedayLab) -> list[str]:
        # the env file and the role agree (the rotation's new state): only the process lags
        return ensure_target(lab)


@dataclass
class DeletedRows:
    """Rows deleted from `tables` (in that order) in one transaction; every row is kept in
    memory and put back (by primary key, never duplicated) at clean-up."""

    fault: str
    tables: tuple[str, ...]
    saved: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = field(default_factory=dict)

    def make(self, lab: GamedayLab) -> None:
        conn = superuser(lab, autocommit=False)
        try:
            with conn, conn.cursor() as cur:
                # no order placed between two DELETEs (a line would then pin its product)
                names = sql.SQL(", ").join(sql.Identifier(t) for t in self.tables)
                cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(names))
                for table in self.tables:
                    cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
                    columns = [d[0] for d in cur.description or ()]
                    self.saved[table] = (columns, list(cur.fetchall()))
                for table in self.tables:
                    cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        except psycopg2.errors.ForeignKeyViolation as exc:
            self.saved.clear()
            raise CannotMake(f"the DELETE is refused here: {str(exc).splitlines()[0]}") from None
        finally:
            conn.close()

    def clean(self, lab: GamedayLab) -> list[str]:
        put_back = 0
        conn = superuser(lab, autocommit=False)
        try:
            with conn, conn.cursor() as cur:
                for table in reversed(self.tables):
                    columns, rows = self.saved.get(table, ([], []))
                    if not rows:
                        continue
                    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING")
                    cur.executemany(
                        insert.format(
                            sql.Identifier(table),
                            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                        ),
                        rows,
                    )
                    put_back += max(0, cur.rowcount)
        finally:
            conn.close()
        return [f"{put_back} deleted rows were still missing"] if put_back > 0 else []


def login_revoked() -> RoleChange:
    """db-auth-failure--login-revoked."""
    return RoleChange(
        fault="db-auth-failure", change="ALTER ROLE {role} NOLOGIN", undo="ALTER ROLE {role} LOGIN"
    )


def password_expired() -> RoleChange:
    """db-auth-failure--role-password-expired."""
    return RoleChange(
        fault="db-auth-failure",
        change="ALTER ROLE {role} VALID UNTIL '2020-01-01'",
        undo="ALTER ROLE {role} VALID UNTIL 'infinity'",
    )


def search_path_changed() -> RoleChange:
    """schema-drift--search-path-changed: new sessions of the app see another schema."""
    return RoleChange(
        fault="schema-drift",
        change="ALTER ROLE {role} SET search_path = reporting",
        undo="ALTER ROLE {role} RESET search_path",
        recycle=True,
    )


@dataclass
class RenamedColumn:
    """schema-drift--manual-rename-hotfix: a DBA's rename outside the migration tool."""

    fault: str = "schema-drift"
    table: str = "products"
    old: str = "name"
    new: str = "product_name"

    def make(self, lab: GamedayLab) -> None:
        run_sql(lab, f"ALTER TABLE {self.table} RENAME COLUMN {self.old} TO {self.new}")

    def clean(self, lab: GamedayLab) -> list[str]:
        conn = superuser(lab)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
                    " AND table_name = %s AND column_name = %s",
                    (self.table, self.new),
                )
                renamed = cur.fetchone() is not None
                if renamed:
                    cur.execute(f"ALTER TABLE {self.table} RENAME COLUMN {self.new} TO {self.old}")
        finally:
            conn.close()
        return ["the column was still renamed"] if renamed else []


@dataclass
class StalePool:
    """api-error-storm--stale-pooled-connections: a pool that does not test connections
    before use (pre-ping off in the env file, the API restarted with it), then a quick
    Postgres restart under its warm connections."""

    fault: str = "api-error-storm"
    before: str | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        path = lab.paths.target_env
        self.before = path.read_text()
        path.write_text(self.before.rstrip("\n") + "\nTARGET_DB_POOL_PRE_PING=false\n")
        with contextlib.suppress(Exception):
            lab.runtime.restart("target")
        for n in range(1, 21):  # warm the pool
            with contextlib.suppress(Exception):
                lab.target.get(f"/products/{n}", timeout=5.0)
        lab.runtime.restart("target-db")

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.before is None:
            return []
        path = lab.paths.target_env
        if path.read_text() == self.before:
            return ensure_target(lab)
        path.write_text(self.before)
        with contextlib.suppress(Exception):
            lab.runtime.restart("target")
        return ["the env file still turned pre-ping off", *ensure_target(lab)]
