"""Token comparison (issue 13, item 8): any text a client sends is compared, never an error.

`hmac.compare_digest` raises TypeError on a str that is not ASCII; a header like
`Authorization: Bearer tökén` reaches the apps as such a str (latin-1 decoded), and a
service comparing str answered 500. Every token check goes through lab.tokens.
"""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from breakfix.control.app import create_app
from lab.hooks_token import HooksAccess, check_hooks_token
from lab.tokens import same_token
from tests.support.supervisor import supervisor_on

TOKEN = "s3cret-token-0123456789abcdef"
NON_ASCII = ["tökén", "tökén".encode().decode("latin-1"), TOKEN + "é", "\udcff" + TOKEN]


@pytest.mark.parametrize("presented", NON_ASCII)
def test_a_non_ascii_token_is_a_mismatch_not_an_error(presented: str) -> None:
    assert same_token(presented, TOKEN) is False
    assert same_token(TOKEN, presented) is False


def test_same_token() -> None:
    assert same_token(TOKEN, TOKEN)
    assert not same_token(TOKEN[:-1], TOKEN)
    assert not same_token(None, TOKEN) and not same_token("", TOKEN)
    assert same_token("tökén", "tökén")  # equal text is equal, ASCII or not


@pytest.mark.parametrize("presented", NON_ASCII)
def test_the_hooks_token_check_refuses_non_ascii(tmp_path: Path, presented: str) -> None:
    token_file = tmp_path / "hooks.token"
    token_file.write_text(TOKEN + "\n")
    assert check_hooks_token(token_file, presented) is HooksAccess.invalid
    assert check_hooks_token(token_file, TOKEN) is HooksAccess.ok


def test_the_supervisors_control_api_answers_401_to_a_non_ascii_token(tmp_path: Path) -> None:
    supervisor = supervisor_on(tmp_path)
    client = TestClient(
        create_app(supervisor=supervisor, token=TOKEN), raise_server_exceptions=False
    )
    for headers in (
        {"Authorization": "Bearer tökén".encode()},
        {"Authorization": "Bearer tökén".encode("latin-1")},
        {"X-Control-Token": "tökén".encode()},
    ):
        response = client.get("/services", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["code"] == "unauthorized"
    assert client.get("/services", headers={"Authorization": f"Bearer {TOKEN}"}).json() == []
