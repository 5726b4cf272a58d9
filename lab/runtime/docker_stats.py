"""Turn the Docker engine's stats documents into the lab's ProcessStats."""

from typing import Any

import psutil

from lab.process_tree import process_tree
from lab.stats import ProcessStats

Sample = dict[str, Any]


def _number(doc: Any, *keys: str) -> int:
    """The integer at `keys` inside nested dicts, 0 when any level is missing."""
    for key in keys:
        if not isinstance(doc, dict):
            return 0
        doc = doc.get(key)
    return int(doc) if isinstance(doc, int | float) else 0


def has_reading(sample: Sample) -> bool:
    """Whether the sample measured a running container: the engine sends samples of zeros
    (no memory in use) for a container that is stopped, starting or being restarted."""
    return _number(sample, "memory_stats", "usage") > 0


def has_previous_cpu(sample: Sample) -> bool:
    """Whether the engine filled in `precpu_stats`, so one sample gives a CPU rate."""
    return _number(sample, "precpu_stats", "system_cpu_usage") > 0


def cpu_percent(previous: Sample, current: Sample) -> float:
    """CPU use between two `cpu_stats` documents, in percent of one core (like `docker stats`)."""
    used = _number(current, "cpu_usage", "total_usage") - _number(
        previous, "cpu_usage", "total_usage"
    )
    elapsed = _number(current, "system_cpu_usage") - _number(previous, "system_cpu_usage")
    if used <= 0 or elapsed <= 0:
        return 0.0
    cores = _number(current, "online_cpus") or len(
        current.get("cpu_usage", {}).get("percpu_usage") or [1]
    )
    return round(used / elapsed * cores * 100.0, 1)


def rss_bytes(sample: Sample) -> int:
    """Memory in use minus reclaimable page cache (cgroup v1 or v2 keys, whichever exist)."""
    memory = sample.get("memory_stats") or {}
    usage = _number(memory, "usage")
    detail = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file", "cache"):
        if key in detail:
            return max(usage - _number(detail, key), 0)
    return usage


def open_files(pid: int) -> int:
    """Files open in `pid` and its descendants; 0 when the engine's pids are not visible here."""
    if pid <= 0:
        return 0
    try:
        root = psutil.Process(pid)
        procs = process_tree(root)
    except psutil.Error:
        return 0
    count = 0
    for proc in procs:
        try:
            count += len(proc.open_files())
        except psutil.Error:
            continue
    return count


def is_frozen(pid: int) -> bool:
    """Whether the process is stopped by a signal (SIGSTOP), when it is visible from here."""
    try:
        return pid > 0 and psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def process_stats(
    pid: int, sample: Sample, previous_cpu: Sample, *, paused: bool = False
) -> ProcessStats:
    """ProcessStats for a container's main pid from one stats sample and an earlier CPU
    reading; `paused` is the engine's own state of the container (`docker pause`)."""
    pids = _number(sample, "pids_stats", "current")
    return ProcessStats(
        pid=pid,
        cpu_percent=cpu_percent(previous_cpu, sample.get("cpu_stats") or {}),
        rss_bytes=rss_bytes(sample),
        threads=pids,
        open_files=open_files(pid),
        processes=pids,
        frozen=paused or is_frozen(pid),
    )
