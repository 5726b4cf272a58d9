"""The known-good env recorder judges readiness by the target's own /ready, not by a backend's
health, which can lag (Docker's healthcheck runs every 5 s): a real HTTP server answers /ready
as each case says, and the runtime is a stand-in reporting the health and uptime given."""

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from action_server.context import ActionContext
from action_server.known_good import known_good, record_if_ready
from lab.envfile import read_env, write_env
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.base import Runtime
from lab.runtime.models import Health, ServiceStatus


class Ready(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[tuple[str, type[Ready]]]:
    """A target whose /ready answers Ready.status (a class of its own per test)."""
    handler = type("ReadyHere", (Ready,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


class Reported:
    """The part of the Runtime the recorder uses: the target's status as given."""

    def __init__(self, health: Health, uptime_s: float | None) -> None:
        self.health, self.uptime_s = health, uptime_s

    def status(self, service: str) -> ServiceStatus:
        return ServiceStatus(
            name=service,
            kind="http",
            pid=None if self.health == "stopped" else 1234,
            port=0,
            url="",
            health=self.health,
            uptime_s=self.uptime_s,
            restart_policy="never",
        )


def context(tmp_path: Path, url: str, runtime: Reported) -> ActionContext:
    paths = StatePaths.at(tmp_path / "state")
    paths.env.mkdir(parents=True)
    write_env(paths.target_env, {"TARGET_DB_POOL_SIZE": "5"})
    loaded = time.time() - 30  # the file was written before the target started
    os.utime(paths.target_env, (loaded - 1, loaded - 1))
    cluster = Cluster(
        name="target-db", data_dir=tmp_path / "pg", port=1, bindir=tmp_path, user=None
    )
    return ActionContext(
        runtime=cast(Runtime, runtime), paths=paths, target_db=cluster, target_url=url
    )


def test_ready_by_its_own_endpoint_while_the_backend_still_says_unhealthy(
    tmp_path: Path, target: tuple[str, type[Ready]]
) -> None:
    url, _ = target
    ctx = context(tmp_path, url, Reported("unhealthy", uptime_s=20.0))
    assert record_if_ready(ctx)
    assert known_good(ctx) == read_env(ctx.paths.target_env)
    assert not record_if_ready(ctx)  # the same env: nothing new to copy


def test_not_recorded_when_ready_fails_even_if_the_backend_says_healthy(
    tmp_path: Path, target: tuple[str, type[Ready]]
) -> None:
    url, handler = target
    handler.status = 503
    ctx = context(tmp_path, url, Reported("healthy", uptime_s=20.0))
    assert not record_if_ready(ctx)
    assert known_good(ctx) is None


@pytest.mark.parametrize(
    ("health", "uptime_s"), [("stopped", None), ("healthy", 60.0)], ids=["stopped", "not-loaded"]
)
def test_not_recorded_when_stopped_or_the_env_was_written_after_the_start(
    tmp_path: Path, target: tuple[str, type[Ready]], health: Health, uptime_s: float | None
) -> None:
    """Stopped: nothing runs under it. Up 60 s with a file 31 s old: an edit not yet loaded."""
    url, _ = target
    ctx = context(tmp_path, url, Reported(health, uptime_s))
    assert not record_if_ready(ctx)
    assert known_good(ctx) is None
