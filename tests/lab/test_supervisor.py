"""The supervisor against real child processes (small HTTP servers standing in for services)."""

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
import pytest

from lab.config import LabSettings
from lab.events import EventRecorder
from lab.health import http_check
from lab.paths import StatePaths
from lab.process import Command
from lab.services import ServiceSpec
from lab.supervisor import Supervisor
from tests.support.ports import free_port


def http_service(name: str, *, restart: bool, depends_on: tuple[str, ...] = ()) -> ServiceSpec:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return ServiceSpec(
        name=name,
        kind="http",
        command=Command(
            argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        ),
        port=port,
        url=url,
        health=http_check(url + "/", timeout=0.5),
        restart=restart,
        depends_on=depends_on,
    )


def make_supervisor(tmp_path: Path, specs: list[ServiceSpec]) -> Supervisor:
    settings = LabSettings(
        state_dir=tmp_path,
        restart_backoff_s=0.2,
        poll_interval_s=0.05,
        stop_timeout_s=5,
        health_timeout_s=15,
    )
    return Supervisor(
        specs=specs,
        settings=settings,
        paths=StatePaths.at(tmp_path),
        events=EventRecorder(source="test"),
        control_url="http://127.0.0.1:1",
    )


async def eventually(probe: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


def test_lab_service_is_restarted_but_victim_is_not(tmp_path: Path) -> None:
    own, victim = http_service("agent", restart=True), http_service("target", restart=False)
    sup = make_supervisor(tmp_path, [own, victim])

    async def scenario() -> None:
        await sup.start_all()
        stopping = asyncio.Event()
        watcher = asyncio.create_task(sup.watch(stopping))
        try:
            first = (await sup.status("agent")).pid
            assert first is not None
            os.kill(first, signal.SIGKILL)

            async def restarted() -> bool:
                status = await sup.status("agent")
                return status.pid not in (None, first) and status.health == "healthy"

            await eventually(restarted)
            assert (await sup.status("agent")).restarts == 1

            victim_pid = (await sup.status("target")).pid
            assert victim_pid is not None
            os.kill(victim_pid, signal.SIGKILL)
            await asyncio.sleep(1.0)
            status = await sup.status("target")
            assert status.health == "stopped"
            assert status.pid is None
            assert status.last_exit_code == -signal.SIGKILL
            assert status.restart_policy == "never"
        finally:
            stopping.set()
            await watcher
            await sup.stop_all()

    run(scenario)


def test_runtime_operations_on_one_service(tmp_path: Path) -> None:
    sup = make_supervisor(tmp_path, [http_service("target", restart=False)])

    async def scenario() -> None:
        await sup.start_all()
        try:
            before = await sup.status("target")
            assert before.health == "healthy" and before.uptime_s is not None

            stats = sup.stats("target")
            assert stats is not None and stats.rss_bytes > 1_000_000 and stats.threads >= 1

            frozen = await sup.send_signal("target", signal.SIGSTOP)
            assert frozen.health == "unhealthy"  # alive but not answering

            after = await sup.restart("target")  # must thaw and replace a frozen process
            assert after.pid not in (None, before.pid)
            assert before.pid is not None and not psutil.pid_exists(before.pid)
            await eventually(lambda: _healthy(sup, "target"))

            stopped = await sup.stop("target")
            assert stopped.health == "stopped" and sup.stats("target") is None
            started = await sup.start("target")
            assert started.pid is not None
            assert sup.logs("target", 5)  # http.server logs the health probes
        finally:
            await sup.stop_all()

    run(scenario)


def test_stop_all_leaves_no_process(tmp_path: Path) -> None:
    specs = [http_service("a", restart=True), http_service("b", restart=False, depends_on=("a",))]
    sup = make_supervisor(tmp_path, specs)

    async def scenario() -> None:
        await sup.start_all()
        pids = [s.pid for s in await sup.list()]
        assert all(pids)
        await sup.stop_all()
        assert not [pid for pid in pids if pid and psutil.pid_exists(pid)]
        assert all(s.health == "stopped" for s in await sup.list())

    run(scenario)


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    sup = make_supervisor(tmp_path, [])
    from lab.errors import UnknownServiceError

    with pytest.raises(UnknownServiceError):
        sup.managed("nope")


async def _healthy(sup: Supervisor, name: str) -> bool:
    return (await sup.status(name)).health == "healthy"
