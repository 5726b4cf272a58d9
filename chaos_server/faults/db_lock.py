"""db-lock: a hidden session holds an ACCESS EXCLUSIVE lock on a hot table until reverted."""

import logging
import threading
from typing import ClassVar, Literal

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from pydantic import BaseModel, ConfigDict

from chaos_server.context import ChaosContext
from chaos_server.faults import chaos_db
from chaos_server.faults.base import Fault, RevertData

log = logging.getLogger("chaos_server.faults")
APP_NAME = "breakfix-chaos"


class LockParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: Literal["products", "inventory", "orders", "order_lines"] = "products"


class DbLock(Fault):
    """The lock lives in an open transaction on a connection this process keeps."""

    id = "db-lock"
    fault_class = "db"
    description = "a hidden session holds an ACCESS EXCLUSIVE lock on a hot table"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)
    params_model = LockParams

    def __init__(self) -> None:
        self._held: dict[str, PgConnection] = {}
        self._mutex = threading.Lock()

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, LockParams)
        with self._mutex:
            held = self._held.get(fault_key)
            if held is not None and not held.closed:
                return {"backend_pid": held.get_backend_pid()}
        # The chaos role: TRUNCATE on the table is what LOCK ... ACCESS EXCLUSIVE needs.
        conn = chaos_db.connect(ctx.target_db, application_name=APP_NAME, autocommit=False)
        try:
            with conn.cursor() as cur:  # psycopg2 opens the transaction; it stays open
                cur.execute("SET lock_timeout = '5s'")
                cur.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                        sql.Identifier(params.table)
                    )
                )
                cur.execute(
                    "SELECT pid, backend_start::text FROM pg_stat_activity"
                    " WHERE pid = pg_backend_pid()"
                )
                pid, started = cur.fetchone() or (None, None)
        except BaseException:
            conn.close()
            raise
        with self._mutex:
            self._held[fault_key] = conn
        return {"fault_key": fault_key, "backend_pid": pid, "backend_start": started}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        with self._mutex:
            conn = self._held.pop(str(revert_data.get("fault_key")), None)
        if conn is not None and not conn.closed:
            try:
                conn.rollback()
            except psycopg2.Error:
                pass  # the session was terminated by someone else: nothing is held
            finally:
                conn.close()
        pid = revert_data.get("backend_pid")
        if pid is None:
            return
        # Held by a process that is gone or another chaos instance: end that backend, but
        # only if it is still our session (same pid, start time and application name).
        chaos_db.end_sessions(
            ctx.target_db,
            sessions=[(pid, revert_data.get("backend_start"))],
            application_name=APP_NAME,
        )
