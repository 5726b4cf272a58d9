"""The engine built from settings: session parameters, and an exhausted pool answered as 503."""

from sqlalchemy import text

from tests.support.asgi import TestClient
from tests.support.target_server import AppFactory


def test_sessions_carry_application_name_and_statement_timeout(make_app: AppFactory) -> None:
    app = make_app(db_application_name="breakfix-target-test", db_statement_timeout_ms=1500)
    with TestClient(app), app.state.runtime.engine.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar_one() == "breakfix-target-test"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1500ms"


def test_exhausted_pool_is_database_unavailable(make_app: AppFactory) -> None:
    app = make_app(db_pool_size=1, db_max_overflow=0, db_pool_timeout_s=0.2)
    with TestClient(app) as client, app.state.runtime.engine.connect():
        # The only pooled connection is held above, so the request waits 0.2 s and gives up.
        response = client.get("/products")
        metrics = client.get("/metrics").text
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable", "code": "database_unavailable"}
    assert "breakfix_db_pool_connections_in_use 1.0" in metrics
