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
