"""API keys: a presented key that is not ASCII is a 401, never a 500 (issue 13, item 8).

The real `authenticate` dependency on a real ops-db (the session's Postgres, migrated), in a
small app: no lab needed.
"""

import secrets
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from action_server.deps import authenticate
from action_server.errors import install_handlers
from action_server.keys import Scope, create_key
from action_server.store import Store
from lab import ops_db
from tests.support.pg import RunningCluster


@pytest.fixture(scope="module")
def store(target_pg: RunningCluster) -> Iterator[Store]:
    """An action-server store on a fresh ops-db migrated to head."""
    password = secrets.token_urlsafe(12)
    target_pg.cluster.ensure_database(role="action_auth", password=password, dbname="action_auth")
    url = target_pg.cluster.dsn(role="action_auth", password=password, dbname="action_auth")
    ops_db.upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


def test_a_non_ascii_key_is_401(store: Store) -> None:
    with store.session() as session:
        _, key = create_key(session=session, name="auth-test", scope=Scope.read)
    app = FastAPI()
    install_handlers(app)
    app.state.parts = SimpleNamespace(store=store)

    @app.get("/whoami")
    def whoami(caller: object = Depends(authenticate)) -> dict[str, str]:
        return {"ok": "yes"}

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/whoami", headers={"X-API-Key": key}).status_code == 200
    for value in ("tökén".encode(), "tökén".encode("latin-1"), (key + "é").encode()):
        for headers in ({"Authorization": b"Bearer " + value}, {"X-API-Key": value}):
            response = client.get("/whoami", headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["code"] == "unauthorized"
