"""What a chaos revert must leave behind, checked from outside: for tests and the chaos bench."""

from collections.abc import Sequence

import psutil
from psycopg2 import errors, sql

from lab.postgres import Cluster
from lab.services import APP_DB


def stopped(pid: int) -> bool:
    """Whether the process is SIGSTOPped (one that is gone is not)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def locked_tables(cluster: Cluster, tables: Sequence[str], *, wait_ms: int = 500) -> list[str]:
    """The tables a plain read cannot get at within `wait_ms` (someone holds a lock)."""
    conn = cluster.connect(APP_DB, application_name="breakfix-check")
    locked = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, false)", (f"{wait_ms}ms",))
            for table in tables:
                try:
                    cur.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table)))
                except errors.LockNotAvailable:
                    locked.append(table)
    finally:
        conn.close()
    return locked
