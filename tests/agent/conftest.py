"""Fixtures for the agent: a fresh ops-db on the session's real Postgres, and a store on it."""

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from agent.store import IncidentStore
from lab import ops_db
from tests.support.pg import RunningCluster

_TABLES = "agent_actions, agent_alerts, agent_incident_events, agent_incidents"


@pytest.fixture(scope="session")
def ops_url(target_pg: RunningCluster) -> str:
    """A fresh ops-db database migrated to head (shared by the agent tests)."""
    password = secrets.token_urlsafe(12)
    target_pg.cluster.ensure_database(role="breakfix_agent", password=password, dbname="agent_ops")
    url = target_pg.cluster.dsn(role="breakfix_agent", password=password, dbname="agent_ops")
    ops_db.upgrade(url)
    return url


def clear_incidents(url: str) -> None:
    """Empty the agent's tables (each test starts from no incident at all)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY"))
            conn.execute(text("ALTER SEQUENCE agent_incident_seq RESTART"))
    finally:
        engine.dispose()


@pytest.fixture
def store(ops_url: str) -> Iterator[IncidentStore]:
    """An IncidentStore on an emptied ops-db."""
    clear_incidents(ops_url)
    incidents = IncidentStore(ops_url)
    try:
        yield incidents
    finally:
        incidents.dispose()
