"""db-data-loss: a table is truncated; its rows wait in a chaos-owned table for the revert."""

from typing import ClassVar, Literal

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from pydantic import BaseModel, ConfigDict

from chaos_server.context import ChaosContext
from chaos_server.faults import chaos_db
from chaos_server.faults.base import Fault, RevertData
from lab.chaos_role import CHAOS_SCHEMA

APP_NAME = "breakfix-chaos"

# What a TRUNCATE ... CASCADE of each table empties too (parents first).
_EMPTIED = {"orders": ["orders", "order_lines"], "order_lines": ["order_lines"]}


class DataLossParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: Literal["order_lines", "orders"] = "order_lines"


def _connect(ctx: ChaosContext) -> PgConnection:
    # The chaos role: SELECT, TRUNCATE and INSERT on the two tables, and it owns the
    # schema the rows are kept in (provisioned with it: CREATE SCHEMA needs more).
    return chaos_db.connect(ctx.target_db, application_name=APP_NAME, autocommit=False)


def _saved_name(table: str, fault_key: str) -> str:
    return f"breakfix_chaos_saved_{table}_{fault_key.replace('-', '')[:8]}"


def _exists(cur: PgCursor, name: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (f"{CHAOS_SCHEMA}.{name}",))
    row = cur.fetchone()
    return row is not None and row[0] is not None


def _restore(cur: PgCursor, live: str, saved: str) -> None:
    """Put back the saved rows whose ids are missing: rows someone already restored are
    never duplicated, and rows written since the truncate are kept."""
    cur.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (CHAOS_SCHEMA, saved),
    )
    columns = sql.SQL(", ").join(sql.Identifier(c) for (c,) in cur.fetchall())
    where = sql.SQL(" WHERE NOT EXISTS (SELECT 1 FROM {} l WHERE l.id = s.id)").format(
        sql.Identifier(live)
    )
    if live == "order_lines":  # lines of orders that no longer exist cannot come back
        where += sql.SQL(" AND s.order_id IN (SELECT id FROM orders)")
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s{}").format(
            sql.Identifier(live), columns, columns, sql.Identifier(CHAOS_SCHEMA, saved), where
        )
    )
    # The identity sequence never went back (no RESTART IDENTITY), but make sure of it.
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (live,))
    seq = cur.fetchone()
    if seq is None or seq[0] is None:
        return
    cur.execute(
        sql.SQL(
            "SELECT setval(%(seq)s::regclass, m) FROM (SELECT max(id) AS m FROM {}) x"
            " WHERE m > coalesce((SELECT last_value FROM pg_sequences"
            " WHERE format('%%I.%%I', schemaname, sequencename) = %(seq)s), 0)"
        ).format(sql.Identifier(live)),
        {"seq": seq[0]},
    )


class DbDataLoss(Fault):
    """TRUNCATE a table after copying its rows aside, in one transaction."""

    id = "db-data-loss"
    fault_class = "db"
    description = "truncate an orders table (rows kept aside for the revert)"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)
    params_model = DataLossParams

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        assert isinstance(params, DataLossParams)
        return {"table": params.table}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, DataLossParams)
        emptied = _EMPTIED[params.table]
        saved = [[live, _saved_name(live, fault_key)] for live in emptied]
        conn = _connect(ctx)
        try:
            with conn, conn.cursor() as cur:  # one transaction: saved and truncated together
                if not _exists(cur, saved[0][1]):  # already injected: change nothing
                    cur.execute("SET lock_timeout = '5s'")
                    for live, name in saved:
                        cur.execute(
                            sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                                sql.Identifier(CHAOS_SCHEMA, name), sql.Identifier(live)
                            )
                        )
                    cascade = sql.SQL(" CASCADE" if len(emptied) > 1 else "")
                    cur.execute(
                        sql.SQL("TRUNCATE {}{}").format(sql.Identifier(params.table), cascade)
                    )
        finally:
            conn.close()
        return {"saved": saved}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        saved = revert_data.get("saved")
        key, table = revert_data.get("fault_key"), revert_data.get("table")
        if saved is None and key is not None and table in _EMPTIED:
            # Killed mid-injection: the intent's fault key names the saved tables exactly.
            saved = [[live, _saved_name(live, str(key))] for live in _EMPTIED[str(table)]]
        conn = _connect(ctx)
        try:
            with conn, conn.cursor() as cur:
                for live, name in saved or []:  # parents first
                    if _exists(cur, name):
                        _restore(cur, live, name)
                for _live, name in saved or []:
                    cur.execute(
                        sql.SQL("DROP TABLE IF EXISTS {}").format(
                            sql.Identifier(CHAOS_SCHEMA, name)
                        )
                    )
        finally:
            conn.close()
