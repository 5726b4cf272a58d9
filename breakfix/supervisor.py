"""The lab supervisor: starts services in order, watches them, controls them, stops them."""

import asyncio
import builtins
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

import psutil

from lab.config import LabSettings
from lab.errors import LabError, ServiceStartError, UnknownServiceError
from lab.events import EventRecorder
from lab.logtail import tail
from lab.paths import StatePaths
from lab.process import spawn, stop
from lab.run_state import ChildRecord, RunState, save
from lab.runtime.models import ServiceStatus
from lab.services import ServiceSpec
from lab.stats import ProcessStats, tree_stats

log = logging.getLogger("breakfix.supervisor")
_STABLE_AFTER_S = 30.0
_MAX_BACKOFF_S = 30.0


@dataclass
class Managed:
    """A service and the supervisor's knowledge of its current process."""

    spec: ServiceSpec
    proc: subprocess.Popen[bytes] | None = None
    ps: psutil.Process | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    provisioned: bool = False
    wanted: bool = False  # should be running: False once stopped on purpose
    ps_cache: dict[int, psutil.Process] = field(default_factory=dict)
    backoff_s: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def frozen(self) -> bool:
        """SIGSTOPped: unhealthy for sure, and a health probe would only wait out its timeout."""
        try:
            return self.ps is not None and self.ps.status() == psutil.STATUS_STOPPED
        except psutil.Error:
            return False


class Supervisor:
    """Owns every child process of the lab; all spawning happens on the event loop thread."""

    def __init__(
        self,
        *,
        specs: list[ServiceSpec],
        settings: LabSettings,
        paths: StatePaths,
        events: EventRecorder,
        control_url: str,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.events = events
        self.services = {spec.name: Managed(spec) for spec in specs}
        self.stopping = False
        self._pending: set[asyncio.Task[None]] = set()
        self.run_state = RunState(
            pid=os.getpid(), started_at=psutil.Process().create_time(), control_url=control_url
        )

    def managed(self, name: str) -> Managed:
        """The service called `name`, or UnknownServiceError."""
        try:
            return self.services[name]
        except KeyError:
            raise UnknownServiceError(f"no service named {name!r}") from None

    async def start_all(self) -> None:
        """Start every service in dependency order, each healthy before the next."""
        for managed in self.services.values():
            async with managed.lock:
                await self._start(managed, wait_healthy=True)

    async def stop_all(self) -> None:
        """Stop every service in reverse dependency order; one failure does not stop the rest."""
        self.stopping = True
        for task in self._pending:
            task.cancel()
        for managed in reversed(self.services.values()):
            async with managed.lock:
                try:
                    await self._stop(managed, reason="lab shutdown")
                except Exception:
                    log.exception("stopping %s failed; carrying on", managed.spec.name)

    async def watch(self, stopping: asyncio.Event) -> None:
        """Notice exits; restart the lab's own services, never the victim."""
        while not stopping.is_set():
            for managed in self.services.values():
                if managed.lock.locked() or managed.proc is None or managed.alive():
                    continue
                await self._on_exit(managed)
            try:
                await asyncio.wait_for(stopping.wait(), self.settings.poll_interval_s)
            except TimeoutError:
                pass

    async def _on_exit(self, managed: Managed) -> None:
        assert managed.proc is not None
        code = managed.proc.returncode
        ran_for = time.time() - (managed.started_at or time.time())
        managed.proc, managed.ps, managed.last_exit_code = None, None, code
        self._forget(managed)
        name = managed.spec.name
        if not managed.spec.restart or not managed.wanted:
            await self.events.record(
                kind="service_exited",
                service=name,
                exit_code=code,
                message=f"exited with code {code}; not restarted (victim)",
            )
            return
        managed.backoff_s = (
            self.settings.restart_backoff_s
            if ran_for > _STABLE_AFTER_S or managed.backoff_s == 0
            else min(managed.backoff_s * 2, _MAX_BACKOFF_S)
        )
        await self.events.record(
            kind="service_exited",
            service=name,
            exit_code=code,
            message=f"exited with code {code}; restart in {managed.backoff_s:.1f}s",
        )
        task = asyncio.get_running_loop().create_task(self._restart_later(managed))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _restart_later(self, managed: Managed) -> None:
        await asyncio.sleep(managed.backoff_s)
        async with managed.lock:
            if managed.alive() or not managed.wanted or self.stopping:
                return
            managed.restarts += 1
            try:
                await self._start(managed, wait_healthy=False)
            except ServiceStartError as exc:
                log.error("%s", exc)

    async def start(self, name: str) -> ServiceStatus:
        """Start one service if it is not running."""
        managed = self.managed(name)
        async with managed.lock:
            if not managed.alive():
                await self._start(managed, wait_healthy=False)
        return await self.status(name)

    async def stop(self, name: str) -> ServiceStatus:
        """Stop one service; it stays stopped until started."""
        managed = self.managed(name)
        async with managed.lock:
            await self._stop(managed, reason="stop requested")
        return await self.status(name)

    async def restart(self, name: str) -> ServiceStatus:
        """Stop one service (thawing it first if frozen) and start it again."""
        managed = self.managed(name)
        async with managed.lock:
            await self._stop(managed, reason="restart requested")
            managed.restarts += 1
            await self._start(managed, wait_healthy=False)
        return await self.status(name)

    async def send_signal(self, name: str, sig: signal.Signals) -> ServiceStatus:
        """Deliver `sig` to the service's main process."""
        managed = self.managed(name)
        if managed.alive():
            assert managed.proc is not None
            managed.proc.send_signal(sig)
            await self.events.record(
                kind="service_signalled", service=name, signal=sig.name, message=f"sent {sig.name}"
            )
        return await self.status(name)

    async def status(self, name: str) -> ServiceStatus:
        """The service's state, with a live health probe."""
        managed = self.managed(name)
        spec = managed.spec
        alive = managed.alive()
        healthy = alive and not managed.frozen() and await spec.health()
        return ServiceStatus(
            name=spec.name,
            kind=spec.kind,
            pid=managed.proc.pid if alive and managed.proc else None,
            port=spec.port,
            url=spec.url,
            health="stopped" if not alive else "healthy" if healthy else "unhealthy",
            uptime_s=round(time.time() - managed.started_at, 3)
            if alive and managed.started_at
            else None,
            restarts=managed.restarts,
            restart_policy="always" if spec.restart else "never",
            last_exit_code=managed.last_exit_code,
        )

    async def list(self) -> builtins.list[ServiceStatus]:
        """Every service, probed concurrently."""
        return builtins.list(await asyncio.gather(*(self.status(name) for name in self.services)))

    def stats(self, name: str) -> ProcessStats | None:
        """Resource usage of the service's process tree, None when it is not running."""
        managed = self.managed(name)
        if not managed.alive() or managed.ps is None:
            return None
        return tree_stats(managed.ps, managed.ps_cache)

    def logs(self, name: str, lines: int) -> builtins.list[str]:
        """The last lines of the service's log file."""
        return tail(self.paths.log(self.managed(name).spec.name), lines)

    async def _start(self, managed: Managed, *, wait_healthy: bool) -> None:
        spec = managed.spec
        if managed.alive():
            return
        if self.stopping:
            raise ServiceStartError(f"{spec.name} not started: the lab is stopping")
        managed.wanted = True
        if spec.before_start is not None:
            await asyncio.to_thread(spec.before_start)
        managed.proc = spawn(spec.command, log_path=self.paths.log(spec.name))
        managed.started_at = time.time()
        managed.ps = psutil.Process(managed.proc.pid)
        managed.ps.cpu_percent(interval=None)
        self.run_state.children[spec.name] = ChildRecord(
            pid=managed.proc.pid,
            started_at=managed.ps.create_time(),
            stop_signal=int(spec.command.stop_signal),
        )
        save(self.paths.supervisor_state, self.run_state)
        await self.events.record(
            kind="service_started",
            service=spec.name,
            pid=managed.proc.pid,
            message=f"started, pid {managed.proc.pid}",
        )
        if wait_healthy or spec.on_ready is not None and not managed.provisioned:
            await self._wait_healthy(managed)
        if spec.on_ready is not None and not managed.provisioned:
            await asyncio.to_thread(spec.on_ready)
            managed.provisioned = True

    async def _wait_healthy(self, managed: Managed) -> None:
        spec = managed.spec
        started = time.monotonic()
        deadline = started + self.settings.health_timeout_s
        while not await spec.health():
            if not managed.alive():
                code = managed.proc.returncode if managed.proc else None
                last = "\n".join(tail(self.paths.log(spec.name), 15))
                raise ServiceStartError(
                    f"{spec.name} exited with code {code} while starting; last log lines:\n{last}"
                )
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{spec.name} not healthy after {self.settings.health_timeout_s:.0f}s; "
                    f"see {self.paths.log(spec.name)}"
                )
            await asyncio.sleep(0.1)
        log.info("%s healthy after %.2fs", spec.name, time.monotonic() - started)

    async def _stop(self, managed: Managed, *, reason: str) -> None:
        managed.wanted = False
        if managed.proc is None:
            return
        proc, spec = managed.proc, managed.spec
        code = await asyncio.to_thread(
            stop, proc, sig=spec.command.stop_signal, timeout=self.settings.stop_timeout_s
        )
        managed.proc, managed.ps, managed.last_exit_code = None, None, code
        self._forget(managed)
        await self.events.record(
            kind="service_stopped",
            service=spec.name,
            exit_code=code,
            reason=reason,
            message=f"stopped ({reason}), exit code {code}",
        )
        if spec.cluster is not None:
            try:
                state = await asyncio.to_thread(spec.cluster.state)
            except LabError as exc:
                state = f"unknown ({exc})"
            log.info("%s cluster state: %s", spec.name, state)

    def _forget(self, managed: Managed) -> None:
        self.run_state.children.pop(managed.spec.name, None)
        save(self.paths.supervisor_state, self.run_state)
