"""A process that is alive but scheduled no more counts as frozen however it was frozen:
SIGSTOP, a debugger's stop (ptrace), a frozen cgroup (`docker pause`)."""

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from observability.collectors.runtime_stats import in_frozen_cgroup, is_frozen

FREEZER = Path("/sys/fs/cgroup/freezer")
PTRACE_ATTACH, PTRACE_DETACH = 16, 17


@pytest.fixture
def sleeper() -> Iterator[psutil.Process]:
    """A child process doing nothing, killed afterwards."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield psutil.Process(child.pid)
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        child.wait(timeout=10)


def _until(check: object, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False


def test_a_running_process_is_not_frozen(sleeper: psutil.Process) -> None:
    assert not is_frozen(sleeper)


def test_a_stopped_process_is_frozen(sleeper: psutil.Process) -> None:
    os.kill(sleeper.pid, signal.SIGSTOP)
    assert _until(lambda: is_frozen(sleeper))


def test_a_process_held_by_a_debugger_is_frozen(sleeper: psutil.Process) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(PTRACE_ATTACH, sleeper.pid, None, None) != 0:
        pytest.skip(f"ptrace not permitted here (errno {ctypes.get_errno()})")
    try:
        assert _until(lambda: sleeper.status() == psutil.STATUS_TRACING_STOP)
        assert is_frozen(sleeper)
    finally:
        libc.ptrace(PTRACE_DETACH, sleeper.pid, None, None)


def test_a_process_in_a_frozen_cgroup_is_frozen(sleeper: psutil.Process) -> None:
    group = FREEZER / f"breakfix-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError as exc:
        pytest.skip(f"no writable cgroup v1 freezer here: {exc}")
    try:
        (group / "cgroup.procs").write_text(str(sleeper.pid))
        assert not in_frozen_cgroup(sleeper.pid)
        (group / "freezer.state").write_text("FROZEN")
        assert _until(lambda: is_frozen(sleeper))
        (group / "freezer.state").write_text("THAWED")
        assert _until(lambda: not is_frozen(sleeper))
    finally:
        (FREEZER / "cgroup.procs").write_text(str(sleeper.pid))
        group.rmdir()
