"""Runtime stats of every lab service: up, CPU, RSS, threads, open files.

Memory, threads and open files come from the runtime backend (the supervisor's psutil view
for `local`, the Docker stats API for `docker`). CPU is taken from cumulative CPU time read
here with psutil, between two readings of this collector, so other callers of the runtime's
stats (which measures "since the last call") cannot skew it; when the process is not
visible from here (a container in another pid namespace) the backend's figure is used.
"""

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab.errors import UnknownServiceError
from lab.process_tree import process_tree
from lab.runtime.base import Runtime
from lab.runtime.local import RuntimeCallError
from observability.model import Collection, Sample

# No CPU ratio for a process younger than this: a start-up (imports, pools) takes a core for
# seconds, and a restart's burst then stood in the evidence window as if the service were
# busy (a CPU hog's signal, right after the previous incident's restart-api).
WARMUP_S = 15.0


@dataclass(frozen=True)
class CpuReading:
    """Cumulative CPU seconds of a process tree at a monotonic instant."""

    pid: int
    cpu_s: float
    at: float


FROZEN_STATES = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
CGROUP_ROOT = Path("/sys/fs/cgroup")


def in_frozen_cgroup(pid: int, root: Path = CGROUP_ROOT) -> bool:
    """Whether `pid` sits in a frozen cgroup (`docker pause`: the v1 freezer's FROZEN, or
    v2's cgroup.freeze 1); False when it cannot be told."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if "freezer" in controllers.split(","):
                state = root / "freezer" / path.lstrip("/") / "freezer.state"
                if state.exists() and state.read_text().strip() != "THAWED":
                    return True
            elif controllers == "":
                freeze = root / path.lstrip("/") / "cgroup.freeze"
                if freeze.exists() and freeze.read_text().strip() == "1":
                    return True
    except (OSError, ValueError):
        return False
    return False


def is_frozen(proc: psutil.Process) -> bool:
    """Whether the process is alive but scheduled no more: stopped (SIGSTOP), held by a
    debugger (tracing stop) or in a frozen cgroup."""
    return proc.status() in FROZEN_STATES or in_frozen_cgroup(proc.pid)


def tree_cpu_seconds(pid: int) -> tuple[float, bool, float] | None:
    """CPU seconds used by `pid`, its descendants and their reaped children; whether the
    root is frozen (SIGSTOP, a debugger's stop, a frozen cgroup: is_frozen); and the root's
    age in seconds. None when the process is not visible from here."""
    try:
        root = psutil.Process(pid)
        procs = process_tree(root)
        stopped = is_frozen(root)
        age_s = time.time() - root.create_time()
    except psutil.Error:
        return None
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue  # exited between the listing and the reading
        total += t.user + t.system + t.children_user + t.children_system
    return total, stopped, age_s


def cpu_ratio(previous: CpuReading | None, current: CpuReading) -> float | None:
    """Cores used between two readings of the same process; None without a usable pair."""
    if previous is None or previous.pid != current.pid or current.at <= previous.at:
        return None
    return max(current.cpu_s - previous.cpu_s, 0.0) / (current.at - previous.at)


def is_not_running(exc: Exception) -> bool:
    """Whether a runtime error means the service's process or container is not running."""
    if getattr(exc, "code", None) == "not_running":  # docker backend
        return True
    return isinstance(exc, RuntimeCallError) and ": 409 " in str(exc)  # local backend


class RuntimeStatsCollector:
    """service_up and process_* samples for `services`, through a runtime backend."""

    name = "runtime"

    def __init__(
        self,
        *,
        runtime: Runtime,
        services: Sequence[str],
        parallel: int = 4,
        warmup_s: float = WARMUP_S,
    ) -> None:
        self.runtime = runtime
        self.services = list(services)
        self.warmup_s = warmup_s
        self._previous: dict[str, CpuReading] = {}
        # Readings in parallel: one slow service tree must not use up the whole interval.
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="runtime-stats")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def collect(self, now: float) -> Collection:
        """One reading per service; a service that is not running is service_up 0."""
        readings = self._pool.map(lambda service: self._service(service, now), self.services)
        return Collection(samples=[sample for batch in readings for sample in batch])

    def _service(self, service: str, now: float) -> list[Sample]:
        def sample(metric: str, value: float) -> Sample:
            return Sample(now, service, metric, float(value))

        try:
            stats = self.runtime.stats(service)
        except UnknownServiceError:
            self._previous.pop(service, None)
            return [sample("service_up", 0)]
        except Exception as exc:
            if not is_not_running(exc):
                raise
            self._previous.pop(service, None)
            return [sample("service_up", 0)]
        out = [
            sample("service_up", 1),
            sample("process_rss_bytes", stats.rss_bytes),
            sample("process_threads", stats.threads),
            sample("process_open_files", stats.open_files),
        ]
        reading = tree_cpu_seconds(stats.pid)
        if reading is None:
            # not visible from here (a container in another pid namespace): the backend's view
            out.append(sample("process_cpu_ratio", stats.cpu_percent / 100.0))
            if stats.frozen is not None:
                out.append(sample("process_stopped", 1 if stats.frozen else 0))
            return out
        cpu_s, seen_stopped, age_s = reading
        stopped = seen_stopped or bool(stats.frozen)
        current = CpuReading(stats.pid, cpu_s, time.monotonic())
        ratio = cpu_ratio(self._previous.get(service), current)
        self._previous[service] = current
        if ratio is not None and age_s >= self.warmup_s:
            out.append(sample("process_cpu_ratio", ratio))
        out.append(sample("process_stopped", 1 if stopped else 0))
        return out
