"""db-proxy as a process: toxics on real sockets (a TCP echo server, a real Postgres), timed."""

import contextlib
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from chaos_server.context import HOOKS_HEADER
from lab.hooks_token import HOOKS_HEADER as ADMIN_HEADER
from tests.support.pg import RunningCluster
from tests.support.ports import free_port

TOKEN = "db-proxy-test-token-0123456789"
RESET = (ConnectionResetError, BrokenPipeError)  # an RST seen on read, or on the next write


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # db-proxy resets it on purpose
            while data := self.request.recv(65536):
                self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Proxy:
    """A running `python -m chaos_server.db_proxy` and its ports."""

    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    token_file: Path

    def admin(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports['admin']}{path}"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {ADMIN_HEADER: TOKEN, **kwargs.pop("headers", {})}
        return httpx.request(method, self.admin(path), headers=headers, timeout=5, **kwargs)

    def add(self, lane: str, **toxic: Any) -> httpx.Response:
        return self.call("POST", f"/proxies/{lane}/toxics", json=toxic)

    def lanes(self) -> dict[str, Any]:
        body: dict[str, Any] = self.call("GET", "/proxies").json()
        return body

    def clear(self) -> None:
        for lane, state in self.lanes().items():
            for toxic in state["toxics"]:
                self.call("DELETE", f"/proxies/{lane}/toxics/{toxic['name']}")


def _start_proxy(upstream_port: int, state: Path) -> Proxy:
    ports = {"primary": free_port(), "fallback": free_port(), "admin": free_port()}
    token_file = state / "hooks.token"
    token_file.write_text(TOKEN + "\n")
    env = {
        **os.environ,
        "DBPROXY_LISTEN_PORT": str(ports["primary"]),
        "DBPROXY_FALLBACK_PORT": str(ports["fallback"]),
        "DBPROXY_ADMIN_PORT": str(ports["admin"]),
        "DBPROXY_ADMIN_TOKEN_FILE": str(token_file),
        "DBPROXY_UPSTREAM_PORT": str(upstream_port),
    }
    with open(state / "db-proxy.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaos_server.db_proxy"], env=env, stdout=log, stderr=log
        )
    proxy = Proxy(proc=proc, ports=ports, token_file=token_file)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(proxy.admin("/healthz"), timeout=1).status_code == 200:
                return proxy
        except httpx.TransportError:
            pass
        assert proc.poll() is None, (state / "db-proxy.log").read_text()
        assert time.monotonic() < deadline, "db-proxy did not start"
        time.sleep(0.1)


def _stop(proxy: Proxy) -> None:
    proxy.proc.terminate()
    proxy.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def echo_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """db-proxy whose lanes lead to a TCP echo server."""
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy = _start_proxy(server.server_address[1], tmp_path_factory.mktemp("echo-proxy"))
    try:
        yield proxy
    finally:
        _stop(proxy)
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pg_proxy(
    target_pg: RunningCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """db-proxy whose lanes lead to a real Postgres."""
    proxy = _start_proxy(target_pg.cluster.port, tmp_path_factory.mktemp("pg-proxy"))
    try:
        yield proxy
    finally:
        _stop(proxy)


@pytest.fixture
def echo(echo_proxy: Proxy) -> Iterator[Proxy]:
    yield echo_proxy
    echo_proxy.clear()


def _connect(proxy: Proxy, lane: str = "primary") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.ports[lane]), timeout=5)
    sock.settimeout(5)
    return sock


def _echoes(sock: socket.socket, data: bytes = b"ping") -> bool:
    sock.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            return False
        received += chunk
    return received == data


def _round_trip_s(sock: socket.socket) -> float:
    begin = time.perf_counter()
    assert _echoes(sock)
    return time.perf_counter() - begin


def test_the_admin_header_is_the_chaos_servers() -> None:
    assert ADMIN_HEADER == HOOKS_HEADER


def test_a_latency_toxic_delays_open_connections_with_jitter(echo: Proxy) -> None:
    sock = _connect(echo)  # open before the toxic: the target's pooled connections are too
    try:
        assert _round_trip_s(sock) < 0.5
        added = echo.add("primary", name="slow", type="latency", latency_ms=300, jitter_ms=100)
        assert added.status_code == 201, added.text
        samples = [_round_trip_s(sock) for _ in range(6)]
        assert min(samples) >= 0.2 and statistics.pstdev(samples) > 0.005, samples
        assert echo.call("DELETE", "/proxies/primary/toxics/slow").status_code == 204
        assert statistics.median(_round_trip_s(sock) for _ in range(3)) < 0.15
    finally:
        sock.close()


def test_an_upstream_latency_toxic_delays_what_the_client_sends(echo: Proxy) -> None:
    echo.add("fallback", name="slow-up", type="latency", stream="upstream", latency_ms=250)
    with _connect(echo, "fallback") as sock:
        assert _round_trip_s(sock) >= 0.25


def test_a_bandwidth_toxic_limits_throughput(echo: Proxy) -> None:
    payload = os.urandom(48 * 1024)
    with _connect(echo) as sock:
        begin = time.perf_counter()
        assert _echoes(sock, payload)
        unlimited = time.perf_counter() - begin
        assert echo.add("primary", name="thin", type="bandwidth", rate_kb_s=48).status_code == 201
        begin = time.perf_counter()
        assert _echoes(sock, payload)  # intact, only slower
        limited = time.perf_counter() - begin
    assert limited >= 0.8 and limited > 4 * unlimited, (limited, unlimited)


def test_reset_peer_resets_open_and_new_connections(echo: Proxy) -> None:
    before = echo.lanes()["primary"]["stats"]["resets"]
    with _connect(echo) as opened:
        assert _echoes(opened)
        assert echo.add("primary", name="rst", type="reset_peer").status_code == 201
        with pytest.raises(RESET):
            _echoes(opened)
        with pytest.raises(RESET):  # reset on connect, or after
            with _connect(echo) as fresh:
                _echoes(fresh)
    assert echo.lanes()["primary"]["stats"]["resets"] >= before + 2
    with _connect(echo, "fallback") as other_lane:  # toxics belong to one lane
        assert _echoes(other_lane)
    echo.call("DELETE", "/proxies/primary/toxics/rst")
    with _connect(echo) as healed:
        assert _echoes(healed)


def test_reset_peer_waits_for_its_timeout(echo: Proxy) -> None:
    echo.add("primary", name="rst-later", type="reset_peer", timeout_ms=600)
    with _connect(echo) as sock:
        begin = time.perf_counter()
        assert _echoes(sock)  # still carried before the timeout
        with pytest.raises(RESET):
            while True:
                _echoes(sock)
                time.sleep(0.05)
        assert time.perf_counter() - begin >= 0.5


def test_a_timeout_toxic_blackholes_until_removed(echo: Proxy) -> None:
    with _connect(echo) as sock:
        assert _echoes(sock)
        assert echo.add("primary", name="hole", type="timeout").status_code == 201
        sock.settimeout(0.8)
        with pytest.raises(TimeoutError):
            _echoes(sock, b"lost")
        dropped = echo.lanes()["primary"]["stats"]["bytes_dropped"]
        assert dropped >= len(b"lost")
        echo.call("DELETE", "/proxies/primary/toxics/hole")
        sock.settimeout(5)
        assert _echoes(sock, b"back")  # "lost" never arrives: it was dropped, not delayed


def test_a_timeout_toxic_closes_connections_after_timeout_ms(echo: Proxy) -> None:
    with _connect(echo) as sock:
        assert _echoes(sock)
        begin = time.perf_counter()
        echo.add("primary", name="hole-close", type="timeout", stream="upstream", timeout_ms=400)
        sock.sendall(b"x")
        assert sock.recv(16) == b""  # closed by the proxy, nothing echoed
        assert time.perf_counter() - begin >= 0.35
    assert echo.lanes()["primary"]["stats"]["timeouts"] >= 1


def test_toxicity_zero_spares_every_connection(echo: Proxy) -> None:
    echo.add("primary", name="never", type="reset_peer", toxicity=0.0)
    with _connect(echo) as sock:
        assert all(_echoes(sock) for _ in range(3))


def test_adding_a_toxic_again_is_a_no_op_and_another_of_that_name_conflicts(
    echo: Proxy,
) -> None:
    toxic = {"name": "same", "type": "latency", "latency_ms": 10}
    assert echo.add("primary", **toxic).status_code == 201
    again = echo.add("primary", **toxic)
    assert again.status_code == 200 and again.json()["latency_ms"] == 10
    other = echo.add("primary", **{**toxic, "latency_ms": 20})
    assert other.status_code == 409 and other.json()["code"] == "toxic_conflict"
    assert [t["name"] for t in echo.lanes()["primary"]["toxics"]] == ["same"]


def test_proxies_shows_lanes_stats_and_toxics(echo: Proxy) -> None:
    before = echo.lanes()["fallback"]["stats"]
    with _connect(echo, "fallback") as sock:
        assert _echoes(sock, b"12345")
        active = echo.lanes()["fallback"]["stats"]["active"]
    lanes = echo.lanes()
    assert set(lanes) == {"primary", "fallback"}
    fallback = lanes["fallback"]
    assert fallback["listen"] == f"127.0.0.1:{echo.ports['fallback']}"
    assert fallback["stats"]["accepted"] == before["accepted"] + 1 and active >= 1
    assert fallback["stats"]["bytes_up"] >= before["bytes_up"] + 5
    assert fallback["stats"]["bytes_down"] >= before["bytes_down"] + 5


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "type": "latency", "latency_ms": -1},
        {"name": "a", "type": "latency", "latency_ms": 1, "toxicity": 1.5},
        {"name": "a", "type": "latency", "latency_ms": 1, "stream": "sideways"},
        {"name": "a", "type": "reset_peer", "stream": "upstream"},
        {"name": "a", "type": "bandwidth", "rate_kb_s": 0},
        {"name": "a", "type": "slow_close"},
        {"name": "../x", "type": "timeout"},
        {"name": "a", "type": "timeout", "extra": 1},
        {"type": "timeout"},
    ],
)
def test_bad_toxics_are_refused_with_a_stable_code(echo: Proxy, body: dict[str, Any]) -> None:
    response = echo.call("POST", "/proxies/primary/toxics", json=body)
    assert response.status_code == 422 and response.json()["code"] == "invalid_toxic"
    assert echo.lanes()["primary"]["toxics"] == []


def test_admin_errors_and_auth(echo: Proxy) -> None:
    assert httpx.get(echo.admin("/healthz")).status_code == 200  # no token needed
    missing = httpx.get(echo.admin("/proxies"))
    assert missing.status_code == 401 and missing.json()["code"] == "unauthorized"
    wrong = echo.call("GET", "/proxies", headers={ADMIN_HEADER: "nope"})
    assert wrong.status_code == 401
    lane = echo.add("sideways", name="a", type="timeout")
    assert lane.status_code == 404 and lane.json()["code"] == "unknown_lane"
    gone = echo.call("DELETE", "/proxies/primary/toxics/nothing")
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_toxic"
    echo.token_file.write_text("\n")  # a blank token file disables the hooks
    try:
        disabled = echo.call("GET", "/proxies")
        assert disabled.status_code == 403 and disabled.json()["code"] == "hooks_disabled"
    finally:
        echo.token_file.write_text(TOKEN + "\n")


def _pg_connect(proxy: Proxy, url: str, lane: str) -> Any:
    parsed = make_url(url)
    return psycopg2.connect(
        host="127.0.0.1",
        port=proxy.ports[lane],
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        connect_timeout=3,
    )


def _select_1_s(conn: Any) -> float:
    begin = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    return time.perf_counter() - begin


def test_latency_slows_a_real_select_1_on_its_lane_only(pg_proxy: Proxy, app_db_url: str) -> None:
    primary, fallback = _pg_connect(pg_proxy, app_db_url, "primary"), None
    try:
        fallback = _pg_connect(pg_proxy, app_db_url, "fallback")
        created = pg_proxy.add("primary", name="pg-slow", type="latency", latency_ms=400)
        assert created.status_code == 201
        slow = [_select_1_s(primary) for _ in range(3)]
        fast = [_select_1_s(fallback) for _ in range(3)]
        assert min(slow) >= 0.4, slow
        assert statistics.median(fast) < 0.2, fast
        pg_proxy.call("DELETE", "/proxies/primary/toxics/pg-slow")
        assert statistics.median(_select_1_s(primary) for _ in range(3)) < 0.2
    finally:
        pg_proxy.clear()
        for conn in (primary, fallback):
            if conn is not None:
                conn.close()


def test_reset_and_blackhole_break_real_postgres_connections(
    pg_proxy: Proxy, app_db_url: str
) -> None:
    pooled = _pg_connect(pg_proxy, app_db_url, "primary")
    try:
        pg_proxy.add("primary", name="pg-rst", type="reset_peer")
        pg_proxy.add("fallback", name="pg-hole", type="timeout", stream="upstream")
        with pytest.raises(psycopg2.OperationalError):
            _select_1_s(pooled)
        for lane in ("primary", "fallback"):
            with pytest.raises(psycopg2.OperationalError):
                _pg_connect(pg_proxy, app_db_url, lane)
        pg_proxy.clear()
        for lane in ("primary", "fallback"):
            conn = _pg_connect(pg_proxy, app_db_url, lane)
            _select_1_s(conn)
            conn.close()
    finally:
        pg_proxy.clear()
        pooled.close()
