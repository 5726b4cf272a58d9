"""The pricing stub: deterministic prices, and `python -m target_server.upstream_stub`."""

import os
import subprocess
import sys
import time

import httpx

from target_server.upstream_stub.app import create_app, price_cents
from tests.support.asgi import TestClient
from tests.support.ports import free_port


def test_prices_are_deterministic_and_named() -> None:
    with TestClient(create_app("fallback")) as stub:
        assert stub.get("/healthz").status_code == 200
        body = stub.get("/prices/ABC-1").json()
    assert body == {
        "sku": "ABC-1",
        "price_cents": price_cents("ABC-1"),
        "currency": "EUR",
        "source": "fallback",
    }
    assert price_cents("ABC-1") != price_cents("ABC-2")


def test_module_entry_point_serves() -> None:
    port = free_port()
    env = {**os.environ, "UPSTREAM_NAME": "primary", "UPSTREAM_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_server.upstream_stub"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/prices/X-1", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                assert time.monotonic() < deadline, "stub did not start"
                time.sleep(0.1)
        assert response.json()["source"] == "primary"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
