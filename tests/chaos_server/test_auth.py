"""The chaos key and db-proxy's hooks token answer 401 to a token that is not ASCII, in-process.

(issue 13, item 8: `hmac.compare_digest` on a non-ASCII str raised TypeError, a 500.)
"""

from pathlib import Path
from types import SimpleNamespace

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from chaos_server.auth import require_chaos_key
from chaos_server.db_proxy.admin import create_admin_app
from chaos_server.errors import install_handlers
from lab.hooks_token import HOOKS_HEADER

KEY = "chaos-key-0123456789abcdef"
NON_ASCII = ["tökén".encode(), "tökén".encode("latin-1"), (KEY + "é").encode()]


def test_the_chaos_key_check_answers_401_to_a_non_ascii_key() -> None:
    app = FastAPI()
    install_handlers(app)
    app.state.parts = SimpleNamespace(key=KEY)

    @app.get("/faults", dependencies=[Depends(require_chaos_key)])
    def faults() -> dict[str, str]:
        return {"ok": "yes"}

    client = TestClient(app, raise_server_exceptions=False)
    for value in NON_ASCII:
        for headers in ({"Authorization": b"Bearer " + value}, {"X-Chaos-Key": value}):
            response = client.get("/faults", headers=headers)
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["code"] == "unauthorized"
    assert client.get("/faults", headers={"X-Chaos-Key": KEY}).status_code == 200


def test_db_proxy_admin_answers_401_to_a_non_ascii_token(tmp_path: Path) -> None:
    token_file = tmp_path / "hooks.token"
    token_file.write_text(KEY + "\n")
    client = TestClient(
        create_admin_app(lanes={}, token_file=token_file), raise_server_exceptions=False
    )
    for value in NON_ASCII:
        response = client.get("/proxies", headers={HOOKS_HEADER: value})
        assert response.status_code == 401, (value, response.text)
        assert response.json()["code"] == "unauthorized"
    assert client.get("/proxies", headers={HOOKS_HEADER: KEY}).json() == {}
