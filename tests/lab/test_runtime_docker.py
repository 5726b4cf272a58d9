"""The docker runtime backend against a real engine: HTTP servers in host-network containers."""

import gc
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from docker.client import DockerClient, from_env
from docker.errors import DockerException, ImageNotFound

from lab.errors import UnknownServiceError
from lab.runtime.docker import (
    ContainerNotRunningError,
    DockerRuntime,
    DockerRuntimeError,
    ScaleNotSupported,
)
from lab.runtime.models import Health, ServiceStatus
from tests.support.ports import free_port

IMAGE = "breakfix-base"


def _engine_problem() -> str | None:
    """Why the real-engine tests cannot run here, or None when they can."""
    with warnings.catch_warnings():
        # The SDK leaks the socket of a failed unix connect; collect it here, quietly.
        warnings.simplefilter("ignore", ResourceWarning)
        problem = _probe_engine()
        gc.collect()
    return problem


def _probe_engine() -> str | None:
    """Connect and look for the image."""
    try:
        client = from_env()
    except DockerException as exc:
        return f"no reachable docker engine ({exc})"
    try:
        client.images.get(IMAGE)
    except ImageNotFound:
        return f"image {IMAGE} is missing"
    except DockerException as exc:
        return f"docker engine error ({exc})"
    finally:
        client.close()
    return None


_problem = _engine_problem()
if _problem is not None:
    pytest.skip(
        f"{_problem}; run scripts/docker_engine.sh (as root) to start an engine and build it",
        allow_module_level=True,
    )

# Answers 200 on every path and logs each request to stderr; exits cleanly on SIGTERM (as PID 1
# it would otherwise ignore it and every stop would wait for the SIGKILL).
SERVER = """
import http.server, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\\n")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def wait_for(
    runtime: DockerRuntime, name: str, health: Health, timeout: float = 15.0
) -> ServiceStatus:
    """Poll until the service reports `health`."""
    deadline = time.monotonic() + timeout
    while True:
        status = runtime.status(name)
        if status.health == health or time.monotonic() > deadline:
            assert status.health == health, status
            return status
        time.sleep(0.1)


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """An SDK client for creating and removing the test's containers."""
    client = from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def project() -> str:
    """A Compose project label unique to this run, so other containers on the engine are ignored."""
    return f"breakfix-test-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def web(engine: Any, project: str) -> Iterator[tuple[Any, int]]:
    """A labelled service container, plus decoys that the runtime must not list."""
    port = free_port()
    created: list[Any] = []
    try:
        created.append(
            engine.containers.run(
                IMAGE,
                ["python3", "-u", "-c", SERVER, str(port)],
                detach=True,
                network_mode="host",
                name=f"{project}-web",
                labels={
                    "breakfix.service": "web",
                    "breakfix.port": str(port),
                    "breakfix.url": f"http://127.0.0.1:{port}",
                    "breakfix.restart_policy": "always",
                    "com.docker.compose.project": project,
                },
            )
        )
        # Same project but no service label; and a service label in another project.
        created.append(
            engine.containers.create(
                IMAGE, ["true"], network_mode="host", labels={"com.docker.compose.project": project}
            )
        )
        created.append(
            engine.containers.create(
                IMAGE,
                ["true"],
                network_mode="host",
                labels={"breakfix.service": "web", "com.docker.compose.project": f"{project}-x"},
            )
        )
        yield created[0], port
    finally:
        for container in created:
            container.remove(force=True)


@pytest.fixture(scope="module")
def runtime(project: str) -> Iterator[DockerRuntime]:
    """The backend under test, scoped to this run's project."""
    backend = DockerRuntime(project=project, stop_timeout_s=5)
    yield backend
    backend.close()


@pytest.fixture
def service(web: tuple[Any, int], runtime: DockerRuntime) -> str:
    """The web service, healthy at the start of each test whatever the last one left."""
    if runtime.status("web").health != "healthy":
        runtime.restart("web")
    wait_for(runtime, "web", "healthy")
    return "web"


def started_at(container: Any) -> str:
    """The container's StartedAt as the engine reports it now."""
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_list_finds_only_labelled_containers(
    runtime: DockerRuntime, service: str, web: tuple[Any, int]
) -> None:
    statuses = runtime.list()
    assert [s.name for s in statuses] == [service]
    (status,) = statuses
    _, port = web
    assert status.port == port
    assert status.url == f"http://127.0.0.1:{port}"
    assert status.restart_policy == "always"


def test_status_healthy(runtime: DockerRuntime, service: str, web: tuple[Any, int]) -> None:
    container, _ = web
    container.reload()
    status = runtime.status(service)
    assert status.health == "healthy"
    assert status.pid == container.attrs["State"]["Pid"]
    assert status.uptime_s is not None and status.uptime_s >= 0


def test_restart_gives_new_start_and_health(
    runtime: DockerRuntime, service: str, web: tuple[Any, int]
) -> None:
    container, _ = web
    before = started_at(container)
    runtime.restart(service)
    assert started_at(container) != before
    wait_for(runtime, service, "healthy")


def test_sigstop_is_unhealthy_and_restart_recovers(runtime: DockerRuntime, service: str) -> None:
    runtime.signal(service, "SIGSTOP")
    wait_for(runtime, service, "unhealthy", timeout=5)
    runtime.restart(service)
    wait_for(runtime, service, "healthy")


def test_docker_pause_is_unhealthy_and_restart_recovers(
    runtime: DockerRuntime, service: str, web: tuple[Any, int]
) -> None:
    container, _ = web
    assert runtime.stats(service).frozen is False
    container.pause()
    assert runtime.status(service).health == "unhealthy"
    # the engine's own state, for a reader that cannot see the container's processes
    assert runtime.stats(service).frozen is True
    runtime.restart(service)
    wait_for(runtime, service, "healthy")


def test_stop_then_start(runtime: DockerRuntime, service: str) -> None:
    stopped = runtime.stop(service)
    assert stopped.health == "stopped"
    assert stopped.pid is None and stopped.uptime_s is None
    assert stopped.last_exit_code == 0
    with pytest.raises(DockerRuntimeError):
        runtime.signal(service, "SIGHUP")
    runtime.start(service)
    wait_for(runtime, service, "healthy")


def test_stats(runtime: DockerRuntime, service: str) -> None:
    stats = runtime.stats(service)
    assert stats.pid == runtime.status(service).pid
    assert stats.rss_bytes > 0
    assert stats.processes >= 1
    assert stats.threads >= 1
    assert stats.cpu_percent >= 0


def test_streamed_stats_never_read_zero_across_a_kill_and_start(project: str, service: str) -> None:
    """The engine's stats stream outlives a killed container and carries samples of zeros
    until the next sample after it starts again (observability recorded a target of 0 bytes
    after api-crash on Compose): a reading measures a running container or is a not_running
    error, never a zero."""
    streaming = DockerRuntime(project=project, stop_timeout_s=5, stream_stats=True)
    try:
        readings = [streaming.stats(service).rss_bytes]
        time.sleep(1.5)  # the stream is running
        streaming.signal(service, "SIGKILL")
        wait_for(streaming, service, "stopped", timeout=5)
        time.sleep(1.5)  # a zero sample of the dead container
        with pytest.raises(ContainerNotRunningError):
            streaming.stats(service)
        streaming.start(service)
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            try:
                readings.append(streaming.stats(service).rss_bytes)
            except ContainerNotRunningError:
                pass  # the engine has no reading yet
            time.sleep(0.1)
    finally:
        streaming.close()
    assert len(readings) > 10 and all(r > 0 for r in readings), readings


def test_logs_contain_requests(runtime: DockerRuntime, service: str, web: tuple[Any, int]) -> None:
    _, port = web
    marker = f"/hello-{secrets.token_hex(4)}"
    assert httpx.get(f"http://127.0.0.1:{port}{marker}", trust_env=False).status_code == 200
    lines = runtime.logs(service, lines=50)
    assert any(f"GET {marker} HTTP/1.1" in line for line in lines), lines
    assert len(runtime.logs(service, lines=1)) == 1


def test_docker_healthcheck_wins_over_the_url_probe(
    engine: Any, project: str, runtime: DockerRuntime
) -> None:
    container = engine.containers.run(
        IMAGE,
        ["sleep", "300"],
        detach=True,
        network_mode="host",
        labels={
            "breakfix.service": "checked",
            # Nothing listens here: only the healthcheck can make it healthy.
            "breakfix.url": f"http://127.0.0.1:{free_port()}",
            "com.docker.compose.project": project,
        },
        healthcheck={"test": ["CMD", "true"], "interval": 200_000_000, "retries": 1},
    )
    try:
        wait_for(runtime, "checked", "healthy", timeout=10)
    finally:
        container.remove(force=True)


def test_unknown_service(runtime: DockerRuntime, web: tuple[Any, int]) -> None:
    with pytest.raises(UnknownServiceError):
        runtime.status("no-such-service")
    with pytest.raises(UnknownServiceError):
        runtime.restart("no-such-service")


def test_scale_not_supported(runtime: DockerRuntime, service: str) -> None:
    with pytest.raises(ScaleNotSupported, match="standalone container") as info:
        runtime.scale(service, 2)
    assert info.value.code == "scale_not_supported"


def test_missing_engine_socket_is_a_docker_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerRuntimeError, match="no socket at /nonexistent/docker.sock") as info:
        DockerRuntime().list()
    assert info.value.code == "docker_error"


def test_unreachable_engine_is_a_docker_error(monkeypatch: pytest.MonkeyPatch) -> None:
    nobody = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DOCKER_HOST", nobody)
    with pytest.raises(DockerRuntimeError, match="docker engine unreachable") as info:
        DockerRuntime().list()
    assert info.value.code == "docker_error"
    # A client made while the engine answered, then lost: a connection error on the call itself.
    lost = DockerRuntime(client=DockerClient(base_url=nobody, version="1.41"))
    with pytest.raises(DockerRuntimeError, match="list containers .* engine unreachable"):
        lost.status("web")
    lost.close()
