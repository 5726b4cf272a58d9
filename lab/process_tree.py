"""A process and its descendants, from one shared, briefly cached reading of the process table.

psutil's `Process.children(recursive=True)` reads `/proc/<pid>/stat` of every process on the
machine at each call. The supervisor's stats and observability's CPU readings asked it for
every service every second (a sixth of the supervisor's CPU and as much of observability's,
measured with py-spy on a lab with three others running). Here the table of parents is read
once per `MAX_AGE_S` per process, whatever the number of services asking; a child younger
than that may be missed for one reading.
"""

import threading
import time
from collections import defaultdict

import psutil

MAX_AGE_S = 0.2

_lock = threading.Lock()
_read_at = -1e9
_children: dict[int, list[int]] = {}


def _children_by_parent(max_age_s: float) -> dict[int, list[int]]:
    global _read_at, _children
    with _lock:
        now = time.monotonic()
        if now - _read_at > max_age_s:
            table: defaultdict[int, list[int]] = defaultdict(list)
            for proc in psutil.process_iter(["ppid"]):
                ppid = proc.info.get("ppid")
                if ppid is not None and proc.pid != ppid:
                    table[ppid].append(proc.pid)
            _children, _read_at = dict(table), now
        return _children


def descendant_pids(pid: int, *, max_age_s: float = MAX_AGE_S) -> list[int]:
    """The pids of `pid`'s descendants (children first), from a table at most `max_age_s` old."""
    children = _children_by_parent(max_age_s)
    found: list[int] = []
    seen = {pid}
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), ()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                queue.append(child)
    return found


def process_tree(
    root: psutil.Process, known: dict[int, psutil.Process] | None = None
) -> list[psutil.Process]:
    """`root` and its live descendants; a Process found in `known` (same pid, still running)
    is reused, so per-object readings such as `cpu_percent` keep their history."""
    known = known or {}
    procs = [root]
    for pid in descendant_pids(root.pid):
        cached = known.get(pid)
        if cached is not None and cached.is_running():
            procs.append(cached)
            continue
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue  # exited since the table was read
    return procs
