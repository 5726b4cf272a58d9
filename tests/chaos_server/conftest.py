"""Fixtures for chaos_server: a real lab on free ports and chaos apps on its ops-db."""

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from breakfix.background import BackgroundLab, running_lab
from chaos_server.config import Settings
from chaos_server.main import create_app
from lab import ops_db
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from tests.support.asgi import TestClient
from tests.support.chaos_lab import ALLOWLIST, ChaosFactory
from tests.support.lab_settings import lab_settings


@pytest.fixture(scope="package")
def lab() -> Iterator[BackgroundLab]:
    """`breakfix run` in the background on its own state dir, stopped after the package."""
    with running_lab("breakfix-chaos-") as running:
        # The lab runs a chaos server of its own on the same ops-db; these tests run their
        # own instances, so the lab's is stopped: one watchdog per test, no races between.
        own = LocalRuntime.from_state_dir(StatePaths.at(running.state_dir))
        try:
            own.stop("chaos")
        finally:
            own.close()
        yield running


@pytest.fixture(scope="package")
def ops_db_url(lab: BackgroundLab) -> str:
    """ops-db of the lab, migrated to head (0003 included)."""
    url = read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"]
    ops_db.upgrade(url)
    return url


@pytest.fixture(scope="package")
def ops_engine(ops_db_url: str) -> Iterator[Any]:
    engine = create_engine(ops_db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="package")
def runtime(lab: BackgroundLab) -> Iterator[LocalRuntime]:
    rt = LocalRuntime.from_state_dir(StatePaths.at(lab.state_dir))
    yield rt
    rt.close()


@pytest.fixture(scope="package")
def chaos_key(lab: BackgroundLab) -> tuple[Path, str]:
    key = secrets.token_urlsafe(24)
    path = lab.state_dir / "secrets" / "chaos-test.key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path, key


@pytest.fixture
def make_chaos(
    lab: BackgroundLab, ops_db_url: str, runtime: LocalRuntime, chaos_key: tuple[Path, str]
) -> Iterator[ChaosFactory]:
    """Start chaos apps (lifespan run: lease, reconcile, watchdog); all closed afterwards."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "ops_db_url": ops_db_url,
            "key_file": chaos_key[0],
            "allowlist": ALLOWLIST,
            "default_ttl_s": 120.0,
            "max_ttl_s": 600.0,
            "watchdog_interval_s": 0.2,
            "ready_timeout_s": 60.0,
            **overrides,
        }
        settings = Settings(_env_file=None, **values)
        app = create_app(settings, lab=lab_settings(lab), runtime=runtime)
        client = TestClient(app, headers={"X-Chaos-Key": chaos_key[1]})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    if clients:  # leave nothing broken for the next test, and the latch released
        clients[0].post("/kill")
        clients[0].post("/kill/release")
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def chaos(make_chaos: ChaosFactory) -> TestClient:
    return make_chaos()
