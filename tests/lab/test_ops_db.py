"""ops-db's own Alembic tree against real Postgres."""

import secrets

import psycopg2

from lab import ops_db
from tests.support.pg import RunningCluster


def test_ops_db_round_trip(target_pg: RunningCluster) -> None:
    cluster = target_pg.cluster
    password = secrets.token_urlsafe(12)
    cluster.ensure_database(role="breakfix_ops", password=password, dbname="ops_roundtrip")
    url = cluster.dsn(role="breakfix_ops", password=password, dbname="ops_roundtrip")

    assert ops_db.current_revision(url) is None
    ops_db.upgrade(url)
    assert ops_db.current_revision(url) == ops_db.head_revision()
    assert _tables(cluster.port, password) >= {"services", "events"}
    ops_db.downgrade(url, "base")
    assert not _tables(cluster.port, password) & {"services", "events"}
    ops_db.upgrade(url)
    assert ops_db.current_revision(url) == ops_db.head_revision()


def _tables(port: int, password: str) -> set[str]:
    conn = psycopg2.connect(
        host="127.0.0.1", port=port, user="breakfix_ops", password=password, dbname="ops_roundtrip"
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    return names
