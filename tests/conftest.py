"""Session-wide fixtures: one real Postgres cluster for the whole test session."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import RunningCluster, make_state_dir, remove_state_dir, running_cluster


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    """A throwaway lab state dir shared by the session."""
    path = make_state_dir()
    yield path
    remove_state_dir(path)


@pytest.fixture(scope="session")
def target_pg(state_dir: Path) -> Iterator[RunningCluster]:
    """A real target-db cluster, started by the lab's embedded manager."""
    with running_cluster(state_dir, "target-db") as running:
        yield running


@pytest.fixture(scope="session")
def app_db_url(target_pg: RunningCluster) -> str:
    """The SQLAlchemy URL of a fresh database owned by a password-authenticated app role."""
    password = secrets.token_urlsafe(16)
    target_pg.cluster.ensure_database(role="breakfix_app", password=password, dbname="shop")
    return target_pg.cluster.dsn(role="breakfix_app", password=password, dbname="shop")
