"""/healthz and /ready: every check, and each one failing for a real reason."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from target_server import migrations
from tests.support.asgi import TestClient
from tests.support.pg import RunningCluster, make_state_dir, remove_state_dir, running_cluster
from tests.support.ports import free_port
from tests.support.target_server import AppFactory


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ready_when_everything_is_up(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"db", "migrations", "cache", "upstream"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["latency_ms"] >= 0
    assert migrations.head_revision() in body["checks"]["migrations"]["detail"]


def test_cache_unwritable(make_app: AppFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    with TestClient(make_app(cache_dir=blocker)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"]["ok"] is False
    assert checks["db"]["ok"] is True


def test_upstream_unreachable(make_app: AppFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with TestClient(make_app(pricing_primary_url=dead)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    upstream = response.json()["checks"]["upstream"]
    assert upstream["ok"] is False
    assert "ConnectError" in upstream["detail"]


def test_fallback_route_is_checked(make_app: AppFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with TestClient(make_app(pricing_primary_url=dead, pricing_route="fallback")) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["upstream"]["detail"].startswith("fallback")


@pytest.fixture(scope="module")
def ready_db() -> Iterator[tuple[RunningCluster, str, str]]:
    """A separate cluster that a test may stop, so the session's cluster stays up."""
    state = make_state_dir()
    try:
        with running_cluster(state, "ready-db") as running:
            password = secrets.token_urlsafe(16)
            running.cluster.ensure_database(role="ready_app", password=password, dbname="shop")
            url = running.cluster.dsn(role="ready_app", password=password, dbname="shop")
            migrations.upgrade(url)
            yield running, url, password
    finally:
        remove_state_dir(state)


def test_database_stopped(
    ready_db: tuple[RunningCluster, str, str],
    make_app: AppFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running, url, password = ready_db
    with TestClient(make_app(database_url=url)) as client:
        assert client.get("/ready").status_code == 200
        running.stop()
        try:
            response = client.get("/ready")
            listing = client.get("/products")
        finally:
            running.start()
        recovered = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["db"]["ok"] is False
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["cache"]["ok"] is True
    assert password not in response.text
    assert listing.status_code == 503
    assert listing.json() == {"detail": "database unavailable", "code": "database_unavailable"}
    assert password not in caplog.text
    assert "database unavailable" in caplog.text
    assert recovered.status_code == 200


def test_schema_drift_fails_migrations_check(
    ready_db: tuple[RunningCluster, str, str], make_app: AppFactory
) -> None:
    _, url, _ = ready_db
    migrations.downgrade(url, "0002")
    try:
        with TestClient(make_app(database_url=url)) as client:
            ready = client.get("/ready")
            listing = client.get("/products")
    finally:
        migrations.upgrade(url)
    assert ready.status_code == 503
    assert "0002" in ready.json()["checks"]["migrations"]["detail"]
    # The column 0003 added is gone, so the listing query really fails.
    assert listing.status_code == 500
    assert listing.json() == {"detail": "internal server error", "code": "internal_error"}


def test_head_revision_parsed_once_per_app(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[None] = []
    parse = migrations.head_revision

    def counting() -> str:
        calls.append(None)
        return parse()

    monkeypatch.setattr(migrations, "head_revision", counting)
    with TestClient(make_app()) as client:
        statuses = [client.get("/ready").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(calls) == 1
