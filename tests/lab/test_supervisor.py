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

from breakfix.supervisor import Supervisor
from lab.config import LabSettings
from lab.health import http_check
from lab.process import Command
from lab.services import ServiceSpec
from tests.support.ports import free_port
from tests.support.supervisor import supervisor_on


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
    return supervisor_on(tmp_path, specs, settings)


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


def test_no_restart_after_shutdown_or_explicit_stop(tmp_path: Path) -> None:
    sup = make_supervisor(tmp_path, [http_service("agent", restart=True)])
    sup.settings.restart_backoff_s = 1.0

    async def scenario() -> None:
        await sup.start_all()
        stopping = asyncio.Event()
        watcher = asyncio.create_task(sup.watch(stopping))
        pid = (await sup.status("agent")).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.3)  # the exit is noticed, a restart is pending (1 s backoff)
        stopping.set()
        await watcher
        await sup.stop_all()
        await asyncio.sleep(1.5)  # past the backoff: nothing may have come back
        assert (await sup.status("agent")).health == "stopped"
        assert "agent" not in sup.run_state.children

    run(scenario)


def test_stats_measure_cpu_of_child_processes(tmp_path: Path) -> None:
    busy = "import os, time\nif os.fork() == 0:\n    while True: pass\ntime.sleep(60)\n"
    spec = http_service("tree", restart=False)
    spec.command = Command(argv=[sys.executable, "-c", busy])
    spec.health = _always_healthy
    sup = make_supervisor(tmp_path, [spec])

    async def scenario() -> None:
        await sup.start_all()
        try:
            await asyncio.sleep(0.5)  # let the parent fork its busy child
            sup.stats("tree")  # first look: psutil needs a reference point per process
            await asyncio.sleep(1.0)
            stats = sup.stats("tree")
            assert stats is not None and stats.processes == 2
            assert stats.cpu_percent > 5  # the busy child (0.0 if its CPU went unmeasured)
        finally:
            await sup.stop_all()

    run(scenario)


async def _always_healthy() -> bool:
    return True


def test_service_env_prefixes_are_not_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.process import spawn

    monkeypatch.setenv("TARGET_DATABASE_URL", "postgresql://from-the-shell")
    monkeypatch.setenv("KEPT_VARIABLE", "yes")
    script = "import os; print(os.environ.get('TARGET_DATABASE_URL'), os.environ['KEPT_VARIABLE'])"
    command = Command(argv=[sys.executable, "-c", script], drop_env_prefixes=("TARGET_",))
    log = tmp_path / "out.log"
    assert spawn(command, log_path=log).wait(timeout=10) == 0
    assert log.read_text().strip() == "None yes"


def test_stopping_a_service_kills_what_it_forked(tmp_path: Path) -> None:
    from lab.process import spawn, stop

    script = (
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    time.sleep(60)\n"
        "time.sleep(60)\n"
    )
    proc = spawn(Command(argv=[sys.executable, "-c", script]), log_path=tmp_path / "out.log")
    deadline = time.monotonic() + 5
    while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = psutil.Process(proc.pid).children()[0]
    stop(proc, sig=signal.SIGTERM, timeout=5)
    child.wait(timeout=5)
    assert not child.is_running()
