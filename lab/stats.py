"""Resource usage of a service's process tree, via psutil."""

import psutil
from pydantic import BaseModel

from lab.process_tree import process_tree


class ProcessStats(BaseModel):
    """CPU, memory, threads and open files summed over a process and its children."""

    pid: int
    cpu_percent: float
    rss_bytes: int
    threads: int
    open_files: int
    processes: int
    # Whether the backend itself sees the process frozen (a paused container); None when the
    # backend does not tell, and a reader that sees the process looks for itself.
    frozen: bool | None = None


def tree_stats(root: psutil.Process, known: dict[int, psutil.Process]) -> ProcessStats:
    """Sum usage over `root` and its descendants; CPU is measured since the last call.

    `known` keeps the Process objects between calls: psutil measures CPU per object, so a
    fresh object for a child would always report 0%.
    """
    procs = process_tree(root, known)
    live = {proc.pid: proc for proc in procs}
    known.clear()
    known.update(live)
    cpu = rss = threads = files = 0.0
    counted = 0
    for proc in procs:
        try:
            with proc.oneshot():
                cpu += proc.cpu_percent(interval=None)
                rss += proc.memory_info().rss
                threads += proc.num_threads()
                files += len(proc.open_files())
            counted += 1
        except psutil.Error:
            continue
    return ProcessStats(
        pid=root.pid,
        cpu_percent=round(cpu, 1),
        rss_bytes=int(rss),
        threads=int(threads),
        open_files=int(files),
        processes=counted,
    )
