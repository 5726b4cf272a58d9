"""CPU readings of a real busy process through RuntimeStatsCollector.

The runtime backend is a stand-in that reports the pid of a process this test started (the
collector asks the runtime for the pid and reads the CPU itself with psutil); the process
and its CPU use are real."""

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import cast

import psutil
import pytest

from lab.runtime.base import Runtime
from lab.stats import ProcessStats
from observability.collectors.runtime_stats import RuntimeStatsCollector
from observability.model import Collection

BUSY = "while True: pass"


class RealProcesses:
    """The part of the Runtime interface the collector uses, over real processes."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def stats(self, service: str) -> ProcessStats:
        proc = psutil.Process(self.pids[service])
        return ProcessStats(
            pid=proc.pid,
            cpu_percent=0.0,
            rss_bytes=proc.memory_info().rss,
            threads=proc.num_threads(),
            open_files=0,
            processes=1,
        )


def started(code: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process running `code` once its interpreter has started (its own start-up
    CPU is behind it)."""
    ready = f"print('ready', flush=True)\n{code}"
    proc = subprocess.Popen([sys.executable, "-c", ready], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def busy() -> Iterator[subprocess.Popen[bytes]]:
    yield from started(BUSY)


@pytest.fixture
def idle() -> Iterator[subprocess.Popen[bytes]]:
    yield from started("import time; time.sleep(60)")


def cpu(collection: Collection, service: str = "svc") -> list[float]:
    return [
        s.value
        for s in collection.samples
        if s.metric == "process_cpu_ratio" and s.service == service
    ]


def readings(collector: RuntimeStatsCollector) -> Collection:
    collector.collect(time.time())
    time.sleep(1.0)
    return collector.collect(time.time())


def test_a_busy_process_reads_busier_than_an_idle_one(
    busy: subprocess.Popen[bytes], idle: subprocess.Popen[bytes]
) -> None:
    runtime = cast(Runtime, RealProcesses({"busy": busy.pid, "idle": idle.pid}))
    collector = RuntimeStatsCollector(runtime=runtime, services=["busy", "idle"], warmup_s=0.0)
    try:
        result = readings(collector)
    finally:
        collector.close()
    (spinning,), (sleeping,) = cpu(result, "busy"), cpu(result, "idle")
    # how much of a core the loop gets depends on the machine's load; a sleep gets none
    assert spinning > 0.05 and sleeping < 0.02, (spinning, sleeping)


def test_no_cpu_ratio_while_a_process_starts_up(busy: subprocess.Popen[bytes]) -> None:
    """A start-up burns a core for seconds; a restart's burst must not read as a busy
    service (it stood in for a CPU hog right after a restart-api)."""
    runtime = cast(Runtime, RealProcesses({"svc": busy.pid}))
    collector = RuntimeStatsCollector(runtime=runtime, services=["svc"], warmup_s=60.0)
    try:
        result = readings(collector)
    finally:
        collector.close()
    assert cpu(result) == []
    assert [s.value for s in result.samples if s.metric == "service_up"] == [1.0]


class HiddenProcess:
    """A backend whose process is in a pid namespace this reader cannot see (a container's),
    telling whether it is frozen as the docker backend does (or not telling: None)."""

    def __init__(self, frozen: bool | None) -> None:
        self.frozen = frozen

    def stats(self, service: str) -> ProcessStats:
        # a pid beyond the kernel's pid_max: no process here has it
        return ProcessStats(
            pid=2**22 + 1,
            cpu_percent=12.0,
            rss_bytes=1,
            threads=1,
            open_files=0,
            processes=1,
            frozen=self.frozen,
        )


@pytest.mark.parametrize(("frozen", "expected"), [(True, [1.0]), (False, [0.0]), (None, [])])
def test_a_hidden_process_is_stopped_as_its_backend_says(
    frozen: bool | None, expected: list[float]
) -> None:
    """A paused container (`docker pause`) is a process observability cannot see: whether it
    is stopped comes from the engine, and nothing is said when the backend says nothing."""
    runtime = cast(Runtime, HiddenProcess(frozen))
    collector = RuntimeStatsCollector(runtime=runtime, services=["svc"], warmup_s=0.0)
    try:
        result = collector.collect(time.time())
    finally:
        collector.close()
    assert [s.value for s in result.samples if s.metric == "process_stopped"] == expected
    assert cpu(result) == [0.12]


def test_a_visible_process_is_stopped_when_its_backend_says_so(
    idle: subprocess.Popen[bytes],
) -> None:
    """A process this reader sees running is still stopped when the engine has frozen its
    container (a cgroup this reader cannot inspect)."""

    class Frozen(RealProcesses):
        def stats(self, service: str) -> ProcessStats:
            return super().stats(service).model_copy(update={"frozen": True})

    runtime = cast(Runtime, Frozen({"svc": idle.pid}))
    collector = RuntimeStatsCollector(runtime=runtime, services=["svc"], warmup_s=0.0)
    try:
        result = collector.collect(time.time())
    finally:
        collector.close()
    assert [s.value for s in result.samples if s.metric == "process_stopped"] == [1.0]
