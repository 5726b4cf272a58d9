"""A fresh ops-db for a test module: its own database and role on the session's Postgres."""

import secrets

from lab import ops_db
from tests.support.pg import RunningCluster


def fresh_ops_db(running: RunningCluster, name: str) -> str:
    """The URL of database `name` (owned by a role of that name), migrated to ops-db head."""
    password = secrets.token_urlsafe(12)
    running.cluster.ensure_database(role=name, password=password, dbname=name)
    url = running.cluster.dsn(role=name, password=password, dbname=name)
    ops_db.upgrade(url)
    return url
