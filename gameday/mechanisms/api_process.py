"""API variants made on the running process from outside: a kernel OOM kill under a memory
limit, a debugger left attached, a frozen cgroup, a CPU quota, a CPU-hungry neighbour."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import psutil

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import ensure_target, target_pid
from gameday.mechanisms.cgroups import Cgroup
from gameday.mechanisms.traffic import Traffic


def _alive(pid: int | None) -> bool:
    return pid is not None and psutil.pid_exists(pid)


@dataclass
class CgroupLimit:
    """The target put in a cgroup of `controller` with `settings`, as a container runtime's
    `docker update` / `docker pause` does; traffic while it lasts when `traffic` is set."""

    fault: str
    controller: str
    settings: dict[str, str]
    traffic_path: str | None = None
    group: Cgroup | None = field(default=None, init=False)
    pid: int | None = field(default=None, init=False)
    traffic: Traffic | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.pid = target_pid(lab)
        self.group = Cgroup(self.controller, f"breakfix-mech-{self.pid}")
        self.group.create()
        self.group.add(self.pid)
        for key, value in self.settings.items():
            self.group.set(key, value)
        if self.traffic_path is not None:
            path = self.traffic_path
            self.traffic = Traffic(str(lab.target.base_url), lambda n: path, concurrency=2).start()

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.traffic is not None:
            self.traffic.stop()
        left = []
        if self.group is not None:
            members = self.group.members()
            if "freezer.state" in self.settings:
                with contextlib.suppress(OSError):
                    self.group.set("freezer.state", "THAWED")
            self.group.remove()
            if members:
                left.append(f"the target was still under {self.controller} {self.settings}")
        return left + ensure_target(lab)


def container_paused() -> CgroupLimit:
    """api-hang--container-paused: the cgroup freezer, as `docker pause` uses it."""
    return CgroupLimit(fault="api-hang", controller="freezer", settings={"freezer.state": "FROZEN"})


def cpu_quota() -> CgroupLimit:
    """api-latency--cpu-quota-throttling: 10 % of a CPU, under normal traffic."""
    return CgroupLimit(
        fault="api-latency",
        controller="cpu",
        settings={"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "10000"},
        traffic_path="/products",
    )


@dataclass
class DebuggerAttached:
    """api-hang--debugger-attached: `gdb -p <pid>` left at its prompt."""

    fault: str = "api-hang"
    gdb: subprocess.Popen[bytes] | None = None
    pid: int | None = None

    def make(self, lab: GamedayLab) -> None:
        self.pid = target_pid(lab)
        self.gdb = subprocess.Popen(
            ["gdb", "-q", "-nx", "-p", str(self.pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3.0)  # attached (and the process stopped) within a second or two

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.gdb is None:
            return []
        attached = self.gdb.poll() is None and _alive(self.pid)
        if self.gdb.poll() is None:
            with contextlib.suppress(OSError):
                assert self.gdb.stdin is not None
                self.gdb.stdin.write(b"detach\nquit\n")
                self.gdb.stdin.flush()
            try:
                self.gdb.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.gdb.kill()
                self.gdb.wait(timeout=5)
        if _alive(self.pid):
            with contextlib.suppress(OSError):
                os.kill(self.pid or 0, signal.SIGCONT)
        left = ["gdb was still attached to the target"] if attached else []
        return left + ensure_target(lab)


_BUSY = "while True: pass"


@dataclass
class NoisyNeighbour:
    """api-cpu-hog--noisy-neighbour-on-host: busy processes on the API's CPU. Confined to one
    core (the API pinned to it too) so the shared machine keeps its other core."""

    fault: str = "api-cpu-hog"
    cpu: int = field(default_factory=lambda: (os.cpu_count() or 1) - 1)
    hogs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pid: int | None = None
    affinity: list[int] = field(default_factory=list)

    def make(self, lab: GamedayLab) -> None:
        self.pid = target_pid(lab)
        proc = psutil.Process(self.pid)
        self.affinity = proc.cpu_affinity()
        for thread in proc.threads():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(thread.id, {self.cpu})
        for _ in range(2):
            hog = subprocess.Popen([sys.executable, "-c", _BUSY])
            os.sched_setaffinity(hog.pid, {self.cpu})
            self.hogs.append(hog)

    def clean(self, lab: GamedayLab) -> list[str]:
        left = ["the CPU hogs were still running"] if self.hogs else []
        for hog in self.hogs:
            hog.kill()
            hog.wait(timeout=10)
        self.hogs.clear()
        if _alive(self.pid):
            for thread in psutil.Process(self.pid).threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, set(self.affinity))
        return left + ensure_target(lab)
