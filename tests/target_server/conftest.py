"""Fixtures for target_server: a migrated and seeded database, pricing stubs, apps, clients."""

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from target_server import migrations
from target_server.config import Settings
from target_server.deps import get_session
from target_server.main import create_app
from target_server.seed import seed
from target_server.upstream_stub.app import create_app as create_stub
from tests.support.asgi import TestClient, ThreadedServer
from tests.support.ports import free_port
from tests.support.target_server import (
    FALLBACK_HOST,
    PRIMARY_HOST,
    AppFactory,
    SettingsFactory,
    refuse_lookup,
    write_hosts,
)


@pytest.fixture(scope="session")
def migrated_db(app_db_url: str) -> str:
    """The shop database at head, with the demo catalogue."""
    migrations.upgrade(app_db_url)
    seed(app_db_url)
    return app_db_url


@pytest.fixture(scope="session")
def db_engine(migrated_db: str) -> Iterator[Engine]:
    """An engine for test-side setup, assertions and the savepoint connection."""
    engine = create_engine(migrated_db, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pricing_stubs() -> Iterator[dict[str, int]]:
    """Real primary and fallback pricing stubs on free loopback ports."""
    servers = {
        name: ThreadedServer(create_stub(name), free_port()).start()
        for name in ("primary", "fallback")
    }
    yield {name: server.port for name, server in servers.items()}
    for server in servers.values():
        server.stop()


@pytest.fixture
def token(tmp_path: Path) -> tuple[Path, str]:
    """A fault-hooks token file in tmp_path, and the token it holds."""
    value = secrets.token_urlsafe(24)
    path = tmp_path / "hooks.token"
    path.write_text(value + "\n")
    return path, value


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    """A lab hosts file mapping both pricing names to loopback."""
    path = tmp_path / "hosts"
    write_hosts(path, {PRIMARY_HOST: "127.0.0.1", FALLBACK_HOST: "127.0.0.1"})
    return path


@pytest.fixture
def make_settings(
    tmp_path: Path, migrated_db: str, hosts_file: Path, pricing_stubs: dict[str, int]
) -> SettingsFactory:
    """Settings for a test app; keyword arguments override any field."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "development",
            "database_url": migrated_db,
            "cache_dir": tmp_path / "cache",
            "hosts_file": hosts_file,
            "pricing_primary_url": f"http://{PRIMARY_HOST}:{pricing_stubs['primary']}",
            "pricing_fallback_url": f"http://{FALLBACK_HOST}:{pricing_stubs['fallback']}",
            "pricing_timeout_s": 1.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return factory


@pytest.fixture
def make_app(make_settings: SettingsFactory) -> AppFactory:
    """Apps whose resolver never falls through to real DNS."""

    def factory(**overrides: Any) -> FastAPI:
        app = create_app(make_settings(**overrides))
        app.state.runtime.resolver.lookup = refuse_lookup
        return app

    return factory


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Connection]:
    """One connection inside an outer transaction that is rolled back after the test."""
    conn = db_engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """A session whose commits only release savepoints of the outer transaction."""
    session = Session(
        bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture
def app(make_app: AppFactory, db_connection: Connection) -> FastAPI:
    """The app with its session dependency bound to the test's rolled-back transaction."""
    app = make_app()

    def savepoint_session() -> Iterator[Session]:
        with Session(
            bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session

    app.dependency_overrides[get_session] = savepoint_session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A test client on the savepoint-isolated app."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def committed_client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client on an app with its real pool: commits are real, clean up what you create."""
    with TestClient(make_app()) as test_client:
        yield test_client
