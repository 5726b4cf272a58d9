"""ops-db for game day tests: a database on the session's cluster, migrated once per process."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lab import ops_db
from lab.postgres import Cluster

_MIGRATED: dict[tuple[int, str], str] = {}


def migrated_ops_db(cluster: Cluster, dbname: str) -> str:
    """The URL of `dbname` (owned by a role of the same name) at ops-db's head revision."""
    key = (cluster.port, dbname)
    if key not in _MIGRATED:
        password = secrets.token_urlsafe(12)
        cluster.ensure_database(role=dbname, password=password, dbname=dbname)
        url = cluster.dsn(role=dbname, password=password, dbname=dbname)
        ops_db.upgrade(url)
        _MIGRATED[key] = url
    return _MIGRATED[key]


def engine_on(url: str) -> Engine:
    """An engine for test-side setup and assertions."""
    return create_engine(url, poolclass=NullPool)


@contextmanager
def savepoint_session(engine: Engine) -> Iterator[Session]:
    """A session whose commits only release savepoints of a transaction rolled back at the end."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


def clear_runs(engine: Engine) -> None:
    """Remove every stored game day run (its cases go with it)."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE gameday_runs CASCADE"))
