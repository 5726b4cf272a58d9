"""The pricing stub's outage controls: token-guarded, and calls really fail or hang."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.hooks_token import HOOKS_HEADER
from target_server.upstream_stub.app import create_app, price_cents
from tests.support.asgi import TestClient
from tests.support.ports import free_port

TOKEN = "stub-controls-token"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "hooks.token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def stub(token_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app("primary", token_file)) as client:
        yield client


def _outage(stub: TestClient, **body: object) -> httpx.Response:
    response: httpx.Response = stub.post(
        "/_control/outage", json=body, headers={HOOKS_HEADER: TOKEN}
    )
    return response


def test_controls_need_the_token(stub: TestClient, token_file: Path) -> None:
    assert stub.get("/_control").status_code == 401
    assert stub.get("/_control", headers={HOOKS_HEADER: "wrong"}).status_code == 401
    refused = stub.post("/_control/outage", json={"mode": "error", "fault_key": "k"})
    assert refused.status_code == 401
    assert stub.get("/prices/A-1").status_code == 200  # nothing was switched on
    token_file.write_text("  \n")  # blank: controls disabled
    assert stub.get("/_control", headers={HOOKS_HEADER: TOKEN}).status_code == 404


def test_controls_are_absent_without_a_token_file() -> None:
    with TestClient(create_app("primary")) as stub:
        assert stub.get("/_control", headers={HOOKS_HEADER: ""}).status_code == 404
        assert stub.get("/prices/A-1").status_code == 200


def test_outage_body_is_validated(stub: TestClient) -> None:
    assert _outage(stub, mode="crash", fault_key="k").status_code == 422
    assert _outage(stub, mode="error", fault_key="k", extra=1).status_code == 422
    assert _outage(stub, mode="timeout", fault_key="k", delay_s=0).status_code == 422
    assert _outage(stub, mode="error", fault_key="a/b").status_code == 422


def test_error_outage_fails_prices_and_health_until_cleared(stub: TestClient) -> None:
    assert _outage(stub, mode="error", fault_key="f-1").status_code == 201
    assert stub.get("/prices/A-1").status_code == 503
    assert stub.get("/healthz").status_code == 503
    shown = stub.get("/_control", headers={HOOKS_HEADER: TOKEN}).json()
    assert [o["fault_key"] for o in shown["outages"]] == ["f-1"]

    ended = stub.delete("/_control/outage/f-1", headers={HOOKS_HEADER: TOKEN})
    assert ended.status_code == 204
    assert stub.get("/prices/A-1").json()["price_cents"] == price_cents("A-1")
    assert stub.get("/healthz").status_code == 200
    # Clearing again: this stub has no such outage.
    again = stub.delete("/_control/outage/f-1", headers={HOOKS_HEADER: TOKEN})
    assert again.status_code == 404


def test_timeout_outage_hangs_calls_and_clearing_releases_them(stub: TestClient) -> None:
    assert _outage(stub, mode="timeout", fault_key="f-2", delay_s=30).status_code == 201
    results: list[tuple[int, float]] = []

    def call() -> None:
        begin = time.monotonic()
        response = stub.get("/prices/A-1")
        results.append((response.status_code, time.monotonic() - begin))

    waiting = threading.Thread(target=call)
    waiting.start()
    time.sleep(1.0)
    assert not results  # still hanging after a second
    stub.delete("/_control/outage/f-2", headers={HOOKS_HEADER: TOKEN})
    waiting.join(timeout=10)
    assert results and results[0][0] == 200 and 1.0 <= results[0][1] < 10


def test_timeout_outage_answers_503_after_its_delay(stub: TestClient) -> None:
    _outage(stub, mode="timeout", fault_key="f-3", delay_s=0.3)
    begin = time.monotonic()
    assert stub.get("/healthz").status_code == 503
    assert time.monotonic() - begin >= 0.3


def test_the_latest_outage_decides_and_each_clears_alone(stub: TestClient) -> None:
    _outage(stub, mode="timeout", fault_key="slow", delay_s=0.2)
    _outage(stub, mode="error", fault_key="fast")
    begin = time.monotonic()
    assert stub.get("/prices/A-1").status_code == 503
    assert time.monotonic() - begin < 0.2  # the error outage, set last, answers at once
    stub.delete("/_control/outage/fast", headers={HOOKS_HEADER: TOKEN})
    assert stub.get("/prices/A-1").status_code == 503  # the other one is still on
    stub.delete("/_control/outage/slow", headers={HOOKS_HEADER: TOKEN})
    assert stub.get("/prices/A-1").status_code == 200


def test_module_entry_point_reads_the_token_file(token_file: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "UPSTREAM_NAME": "primary",
        "UPSTREAM_PORT": str(port),
        "UPSTREAM_CONTROL_TOKEN_FILE": str(token_file),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_server.upstream_stub"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "stub did not start"
                time.sleep(0.1)
        body = {"mode": "error", "fault_key": "main"}
        started = httpx.post(f"{base}/_control/outage", json=body, headers={HOOKS_HEADER: TOKEN})
        assert started.status_code == 201
        assert httpx.get(f"{base}/prices/X-1", timeout=5).status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=10)
