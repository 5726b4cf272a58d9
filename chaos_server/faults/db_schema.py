"""schema-drift: the target DB is rolled back one Alembic revision under the running app."""

from typing import ClassVar

from psycopg2 import sql
from pydantic import BaseModel

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.envfile import read_env
from lab.services import APP_DB
from target_server import migrations

CHAOS_SCHEMA = "breakfix_chaos"


def app_url(ctx: ChaosContext) -> str:
    """The target's own database URL (its role, its route), as its env file says."""
    return read_env(ctx.paths.target_env)["TARGET_DATABASE_URL"]


def _category_table(fault_key: str) -> str:
    return f"breakfix_chaos_saved_category_{fault_key.replace('-', '')[:8]}"


class SchemaDrift(Fault):
    """Downgrade one revision; the revert upgrades to head unless someone already did.

    Dropping 0003 drops products.category: the values are kept in a chaos-owned table and
    put back after the upgrade, where the column still holds the upgrade's default.
    """

    id = "schema-drift"
    fault_class = "db"
    description = "roll the target DB back one migration revision"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        head = migrations.head_revision()
        current = migrations.current_revision(app_url(ctx))
        if current != head:
            raise FaultRefused(f"target-db is at revision {current}, not head {head}")
        return {"revision": current}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        url = app_url(ctx)
        saved = _category_table(fault_key)
        if migrations.current_revision(url) == migrations.head_revision():
            conn = ctx.target_db.connect(APP_DB)
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT 1 FROM information_schema.columns"
                        " WHERE table_schema = 'public' AND table_name = 'products'"
                        " AND column_name = 'category'"
                    )
                    if cur.fetchone() is not None:
                        cur.execute(
                            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                                sql.Identifier(CHAOS_SCHEMA)
                            )
                        )
                        cur.execute(
                            sql.SQL(
                                "CREATE TABLE IF NOT EXISTS {} AS SELECT id, category FROM products"
                            ).format(sql.Identifier(CHAOS_SCHEMA, saved))
                        )
            finally:
                conn.close()
            migrations.downgrade(url, "-1")
        return {"saved_category": saved}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        url = app_url(ctx)
        head = migrations.head_revision()
        if migrations.current_revision(url) != head:  # the agent may have migrated already
            migrations.upgrade(url, "head")
        saved = revert_data.get("saved_category")
        if not saved:
            return
        conn = ctx.target_db.connect(APP_DB)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (f"{CHAOS_SCHEMA}.{saved}",))
                row = cur.fetchone()
                if row is None or row[0] is None:
                    return
                table = sql.Identifier(CHAOS_SCHEMA, saved)
                # Only rows still at the column default: a category someone set is kept.
                cur.execute(
                    sql.SQL(
                        "UPDATE products p SET category = s.category FROM {} s"
                        " WHERE p.id = s.id AND p.category = 'general'"
                        " AND s.category <> 'general'"
                    ).format(table)
                )
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        finally:
            conn.close()
