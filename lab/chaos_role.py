"""The chaos DB role: the least privileges the Postgres faults need, never a superuser.

Not being a superuser matters beyond least privilege: a connection hog as this role can
never take the superuser_reserved_connections slots the lab's own tools (and the action
server's fixes) rely on. It has no password, so it logs in over the cluster's Unix socket
(trusted locally) and never over TCP.
"""

import logging

from psycopg2 import sql
from psycopg2.extensions import cursor as PgCursor

from lab.postgres import Cluster

log = logging.getLogger("breakfix.provision")

CHAOS_ROLE = "breakfix_chaos"
CHAOS_SCHEMA = "breakfix_chaos"  # owned by the role: where faults keep rows for their reverts
# db-lock: LOCK ... ACCESS EXCLUSIVE needs UPDATE, DELETE or TRUNCATE on the table.
LOCKABLE = ("products", "inventory", "orders", "order_lines")
# db-data-loss: rows copied aside (SELECT), the table emptied (TRUNCATE), rows put back
# (INSERT) and the identity sequence kept ahead of them (UPDATE on the sequence for setval).
RESTORABLE = ("orders", "order_lines")


def ensure_chaos_role(cluster: Cluster, *, app_role: str, dbname: str) -> None:
    """Create or refresh the chaos role and its grants on `dbname`; idempotent."""
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            _role(cur, app_role)
    finally:
        conn.close()
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            _grants(cur, dbname)
    finally:
        conn.close()
    log.info("chaos role %s provisioned on %s", CHAOS_ROLE, dbname)


def _role(cur: PgCursor, app_role: str) -> None:
    role = sql.Identifier(CHAOS_ROLE)
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (CHAOS_ROLE,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    # CREATEROLE is for db-auth-failure's ALTER ROLE ... PASSWORD on the app role.
    cur.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER CREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS"
            " NOINHERIT CONNECTION LIMIT -1 PASSWORD NULL"
        ).format(role)
    )
    # Its statements may carry the app's password (as a SCRAM verifier): keep them out of
    # the server log, which the lab's runtime clients can read. Only a superuser sets these.
    cur.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'none'").format(role))
    cur.execute(sql.SQL("ALTER ROLE {} SET log_min_error_statement = 'panic'").format(role))
    cur.execute("SHOW server_version_num")
    row = cur.fetchone()
    if row is not None and int(row[0]) >= 160000:
        # From PG16 CREATEROLE alone no longer covers roles it did not create: the admin
        # option is needed, without inheriting or assuming any of the app's privileges.
        cur.execute(
            sql.SQL("GRANT {} TO {} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE").format(
                sql.Identifier(app_role), role
            )
        )


def _grants(cur: PgCursor, dbname: str) -> None:
    role = sql.Identifier(CHAOS_ROLE)
    cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), role))
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    for table in LOCKABLE:
        if _exists(cur, table):
            cur.execute(
                sql.SQL("GRANT TRUNCATE ON {} TO {}").format(sql.Identifier("public", table), role)
            )
    for table in RESTORABLE:
        if not _exists(cur, table):
            continue
        cur.execute(
            sql.SQL("GRANT SELECT, INSERT, TRUNCATE ON {} TO {}").format(
                sql.Identifier("public", table), role
            )
        )
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (f"public.{table}",))
        seq = cur.fetchone()
        if seq is not None and seq[0] is not None:
            cur.execute(
                sql.SQL("GRANT SELECT, UPDATE ON SEQUENCE {} TO {}").format(sql.SQL(seq[0]), role)
            )
    # Owning the schema is less than CREATE on the database: the role can make tables here
    # and nowhere else.
    schema = sql.Identifier(CHAOS_SCHEMA)
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(schema, role))
    cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema, role))


def _exists(cur: PgCursor, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (f"public.{table}",))
    row = cur.fetchone()
    return row is not None and row[0] is not None
