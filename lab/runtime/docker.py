"""The `docker` runtime backend: the lab's services are labelled containers on a Docker engine."""

import builtins
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from docker.client import from_env
from docker.errors import APIError, DockerException, NotFound

from lab.errors import LabError, UnknownServiceError
from lab.runtime.docker_stats import has_previous_cpu, has_reading, is_frozen, process_stats
from lab.runtime.models import Health, ProcessStats, ServiceStatus, SignalName
from lab.tls import client_tls

SERVICE_LABEL = "breakfix.service"
PORT_LABEL = "breakfix.port"
URL_LABEL = "breakfix.url"
KIND_LABEL = "breakfix.kind"
POLICY_LABEL = "breakfix.restart_policy"
PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
_NEVER_STARTED = "0001-01-01T00:00:00Z"


class DockerRuntimeError(LabError):
    """The Docker engine was unreachable or refused a call."""

    code = "docker_error"


class ContainerNotRunningError(DockerRuntimeError):
    """The call needs a running container and the service's container is not running."""

    code = "not_running"


class ScaleNotSupported(LabError):
    """The service cannot be scaled by this backend."""

    code = "scale_not_supported"


def _started_at(text: str) -> datetime | None:
    """Parse Docker's RFC 3339 time with nanoseconds; None for the zero time."""
    if not text or text == _NEVER_STARTED:
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


def _preferred(containers: builtins.list[Any]) -> Any:
    """Of several containers for one service, a running one first, then the newest."""
    return max(containers, key=lambda c: (c.attrs["State"]["Running"], c.attrs["Created"]))


class DockerRuntime:
    """Find and control the lab's containers through the Docker SDK."""

    def __init__(
        self,
        *,
        client: Any = None,
        project: str | None = None,
        stop_timeout_s: int = 10,
        probe_timeout_s: float = 1.0,
        stream_stats: bool = False,
    ) -> None:
        self._client = client
        # stream_stats: follow each container's stats stream (`docker stats`), so a reading is
        # at hand at once; a one-shot call takes up to a second on a busy engine, and
        # observability reads every service each second.
        self._stream_stats = stream_stats
        self._streams: dict[str, threading.Thread] = {}
        self._streamed: dict[str, dict[str, Any]] = {}
        self._stream_client: Any = None
        self._stream_lock = threading.Lock()
        self._project = project
        self._stop_timeout_s = stop_timeout_s
        self._probe_timeout_s = probe_timeout_s
        self._last_cpu: dict[str, dict[str, Any]] = {}  # container id -> its last cpu_stats

    def close(self) -> None:
        """Close the connection to the engine, if one was opened (stats streams too)."""
        if self._client is not None:
            self._client.close()
        if self._stream_client is not None:
            self._stream_client.close()

    def _follow(self, container_id: str) -> None:
        """Keep the latest sample of a container's stats stream until it ends."""
        try:
            for sample in self._stream_client.api.stats(container_id, decode=True, stream=True):
                self._streamed[container_id] = sample
        except Exception:
            pass
        finally:
            self._streamed.pop(container_id, None)
            with self._stream_lock:
                self._streams.pop(container_id, None)

    def _latest_streamed(self, container_id: str) -> dict[str, Any] | None:
        """The stream's latest sample of the container (a stream started if none runs)."""
        with self._stream_lock:
            if self._stream_client is None:
                self._docker()  # the engine is reachable
                self._stream_client = from_env(max_pool_size=64)
            if container_id not in self._streams:
                follower = threading.Thread(
                    target=self._follow, args=(container_id,), daemon=True, name="docker-stats"
                )
                self._streams[container_id] = follower
                follower.start()
        return self._streamed.get(container_id)

    @contextmanager
    def _engine(self, action: str) -> Iterator[None]:
        """Turn the SDK's failures into the lab's errors, naming what was attempted."""
        try:
            yield
        except NotFound as exc:
            raise UnknownServiceError(f"{action}: container not found ({exc.explanation})") from exc
        except APIError as exc:
            raise DockerRuntimeError(f"{action} failed: {exc.explanation or exc}") from exc
        except (DockerException, OSError) as exc:
            # requests' connection errors are OSErrors: the engine went away or never answered.
            raise DockerRuntimeError(f"{action} failed: docker engine unreachable ({exc})") from exc

    def _docker(self) -> Any:
        """The SDK client, connected on first use rather than at construction."""
        if self._client is None:
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            socket = host.removeprefix("unix://")
            if host.startswith("unix://") and not os.path.exists(socket):
                # Checked first: the SDK leaks the socket of a failed unix connect.
                raise DockerRuntimeError(f"docker engine unreachable: no socket at {socket}")
            with self._engine("connect to the docker engine"):
                self._client = from_env()
        return self._client

    def _containers(self, service: str | None = None) -> builtins.list[Any]:
        """Containers carrying the service label, in this project when one is set."""
        labels = [f"{SERVICE_LABEL}={service}" if service else SERVICE_LABEL]
        if self._project:
            labels.append(f"{PROJECT_LABEL}={self._project}")
        with self._engine(f"list containers labelled {' '.join(labels)}"):
            found = self._docker().containers.list(
                all=True, filters={"label": labels}, ignore_removed=True
            )
        return builtins.list(found)

    def _container(self, service: str) -> Any:
        """The one container that runs `service`."""
        found = self._containers(service)
        if not found:
            where = f" in project {self._project}" if self._project else ""
            raise UnknownServiceError(f"no container labelled {SERVICE_LABEL}={service}{where}")
        return _preferred(found)

    def _health(self, container: Any, url: str) -> Health:
        """Stopped, or healthy/unhealthy from the paused state, the healthcheck or a probe."""
        state = container.attrs["State"]
        if not state["Running"]:
            return "stopped"
        if state["Paused"] or is_frozen(int(state["Pid"])):
            return "unhealthy"
        if "Health" in state:
            return "healthy" if state["Health"].get("Status") == "healthy" else "unhealthy"
        if not url:
            return "healthy"
        try:
            response = httpx.get(
                f"{url.rstrip('/')}/healthz",
                timeout=self._probe_timeout_s,
                trust_env=False,
                verify=client_tls(),
            )
        except httpx.HTTPError:
            return "unhealthy"
        return "healthy" if response.status_code == 200 else "unhealthy"

    def _status(self, container: Any) -> ServiceStatus:
        """The ServiceStatus of a container whose attrs are fresh."""
        labels: dict[str, str] = container.labels
        state = container.attrs["State"]
        url = labels.get(URL_LABEL, "")
        port = labels.get(PORT_LABEL, "")
        started = _started_at(state.get("StartedAt", ""))
        running = bool(state["Running"])
        policy: Literal["always", "never"] = (
            "always" if labels.get(POLICY_LABEL) == "always" else "never"
        )
        finished = state.get("FinishedAt", _NEVER_STARTED) != _NEVER_STARTED
        return ServiceStatus(
            name=labels[SERVICE_LABEL],
            kind=labels.get(KIND_LABEL, "http"),
            pid=int(state["Pid"]) if running else None,
            port=int(port) if port.isdigit() else 0,
            url=url,
            health=self._health(container, url),
            uptime_s=round((datetime.now(UTC) - started).total_seconds(), 3)
            if running and started
            else None,
            restarts=int(container.attrs.get("RestartCount", 0)),
            restart_policy=policy,
            last_exit_code=int(state["ExitCode"]) if finished and not running else None,
        )

    def _fresh_status(self, service: str, container: Any) -> ServiceStatus:
        """Reload the container's attrs, then report its status."""
        with self._engine(f"inspect {service}"):
            container.reload()
        return self._status(container)

    def _thaw(self, service: str, container: Any) -> None:
        """Undo `docker pause` and SIGSTOP, so stop signals reach a process that can act on them."""
        state = container.attrs["State"]
        if not state["Running"]:
            return
        with self._engine(f"thaw {service}"):
            if state["Paused"]:
                container.unpause()
            container.kill(signal="SIGCONT")

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service with its health."""
        by_name: dict[str, builtins.list[Any]] = {}
        for container in self._containers():
            by_name.setdefault(container.labels[SERVICE_LABEL], []).append(container)
        return [self._status(_preferred(by_name[name])) for name in sorted(by_name)]

    def status(self, service: str) -> ServiceStatus:
        """One service with its health."""
        return self._status(self._container(service))

    def start(self, service: str) -> ServiceStatus:
        """Start a stopped service (a no-op for a running one)."""
        container = self._container(service)
        if not container.attrs["State"]["Running"]:
            with self._engine(f"start {service}"):
                container.start()
        return self._fresh_status(service, container)

    def stop(self, service: str) -> ServiceStatus:
        """Stop a service gracefully, forcefully after the stop timeout."""
        container = self._container(service)
        self._thaw(service, container)
        with self._engine(f"stop {service}"):
            container.stop(timeout=self._stop_timeout_s)
        return self._fresh_status(service, container)

    def restart(self, service: str) -> ServiceStatus:
        """Stop then start a service, even a paused or SIGSTOPped one."""
        container = self._container(service)
        self._thaw(service, container)
        with self._engine(f"restart {service}"):
            container.restart(timeout=self._stop_timeout_s)
        return self._fresh_status(service, container)

    def signal(self, service: str, sig: SignalName) -> ServiceStatus:
        """Deliver a signal to the service's main process; SIGSTOP and SIGCONT freeze and
        thaw the whole container (`docker pause`/`unpause`), the engine's own mechanism."""
        container = self._container(service)
        state = container.attrs["State"]
        if not state["Running"]:
            raise ContainerNotRunningError(f"signal {sig} to {service}: container is not running")
        with self._engine(f"send {sig} to {service}"):
            if sig == "SIGSTOP":
                if not state["Paused"]:
                    container.pause()
            elif sig == "SIGCONT":
                self._thaw(service, container)
            else:
                container.kill(signal=sig)
        return self._fresh_status(service, container)

    def stats(self, service: str) -> ProcessStats:
        """CPU, memory, threads and open files of the service's container."""
        container = self._container(service)
        state = container.attrs["State"]
        if not state["Running"]:
            raise ContainerNotRunningError(f"stats of {service}: container is not running")
        streamed = self._latest_streamed(container.id) if self._stream_stats else None
        if streamed is not None and has_reading(streamed):
            return process_stats(
                int(state["Pid"]),
                streamed,
                streamed.get("precpu_stats") or {},
                paused=bool(state["Paused"]),
            )
        with self._engine(f"read stats of {service}"):
            # one-shot: at once, where a plain reading waits a second for its own CPU pair
            sample: dict[str, Any] = container.stats(stream=False, one_shot=True)
        if not has_reading(sample):
            # between the listing and the reading the container stopped or is restarting
            raise ContainerNotRunningError(f"stats of {service}: the engine has no reading")
        previous = sample.get("precpu_stats") or {}
        if not has_previous_cpu(sample):
            # The CPU rate is taken against this backend's previous reading of the container
            # (none yet: 0 %).
            previous = self._last_cpu.get(container.id) or {}
        self._last_cpu[container.id] = sample.get("cpu_stats") or {}
        return process_stats(int(state["Pid"]), sample, previous, paused=bool(state["Paused"]))

    def logs(self, service: str, lines: int = 100) -> builtins.list[str]:
        """The last lines of the service's log (stdout and stderr)."""
        container = self._container(service)
        with self._engine(f"read logs of {service}"):
            raw: bytes = container.logs(tail=max(lines, 0))
        return raw.decode("utf-8", errors="replace").splitlines()

    def can_scale(self) -> bool:
        """Asked by scale-out before it plans; `scale` then gives the reason it refuses."""
        return True

    def scale(self, service: str, replicas: int) -> builtins.list[ServiceStatus]:
        """Refuse to scale: the backend runs one container per service (a documented refusal:
        on host networking a second replica would bind the same port, and the lab has no
        front that balances between replicas)."""
        labels: dict[str, str] = self._container(service).labels
        compose = labels.get(COMPOSE_SERVICE_LABEL)
        if compose is None:
            raise ScaleNotSupported(
                f"cannot scale {service} to {replicas}: it is a standalone container, "
                "not a Compose service"
            )
        raise ScaleNotSupported(
            f"cannot scale {service} to {replicas}: Compose service {compose} runs on host "
            "networking, where a second replica would bind the same port, and the lab has no "
            "front to balance replicas; the docker backend runs one container per service"
        )
