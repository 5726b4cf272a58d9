"""The supervisor's control API at its HTTP boundary (issue 13, items 4 and 8), over HTTP."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from breakfix.control.app import create_app
from tests.support.asgi import ThreadedServer
from tests.support.hostile_bodies import Chunks, post_chunked
from tests.support.ports import free_port
from tests.support.supervisor import supervisor_on

TOKEN = "control-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def control(tmp_path: Path) -> Iterator[str]:
    supervisor = supervisor_on(tmp_path)
    port = free_port()
    server = ThreadedServer(create_app(supervisor=supervisor, token=TOKEN), port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_chunked_body_over_the_limit_is_refused(control: str) -> None:
    response = post_chunked(f"{control}/services/target/signal", Chunks(), AUTH)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert len(response.content) < 1_000


def test_a_validation_error_echoes_a_bounded_part_of_the_input(control: str) -> None:
    response = httpx.post(
        f"{control}/services/target/signal", json={"signal": "S" * 60_000}, headers=AUTH
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert len(response.content) < 2_000
