"""Alembic round trips on a fresh database, and the idempotent seed."""

import secrets

from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from target_server import migrations
from target_server.seed import seed
from tests.support.pg import RunningCluster


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            if not inspector.has_table(table):
                return set()
            return {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()


def test_round_trip(target_pg: RunningCluster) -> None:
    password = secrets.token_urlsafe(16)
    target_pg.cluster.ensure_database(role="mig_app", password=password, dbname="shop_migrations")
    url = target_pg.cluster.dsn(role="mig_app", password=password, dbname="shop_migrations")
    head = migrations.head_revision()
    assert head == "0003"
    assert migrations.current_revision(url) is None

    migrations.upgrade(url)
    assert migrations.current_revision(url) == head
    assert "category" in columns(url, "products")
    assert {"order_id", "product_id", "unit_price_cents"} <= columns(url, "order_lines")

    migrations.downgrade(url, "-1")
    assert migrations.current_revision(url) == "0002"
    assert "category" not in columns(url, "products")
    migrations.upgrade(url)
    assert migrations.current_revision(url) == head
    assert "category" in columns(url, "products")

    migrations.downgrade(url, "base")
    assert migrations.current_revision(url) is None
    assert columns(url, "products") == set()
    assert columns(url, "orders") == set()
    migrations.upgrade(url, "head")
    assert migrations.current_revision(url) == head

    assert seed(url) == 20
    assert seed(url) == 0
