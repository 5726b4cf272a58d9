"""Finding and stopping what a supervisor left running (after a crash or a SIGKILL)."""

import os
import signal

import psutil

from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.run_state import load


def reap(*, paths: StatePaths, dbs: dict[str, Cluster], timeout: float) -> list[str]:
    """Stop recorded children and postmasters of our data dirs that still run; name them."""
    stopped: list[str] = []
    state = load(paths.supervisor_state)
    victims: list[tuple[str, psutil.Process, int]] = []
    if state is not None:
        for name, child in state.children.items():
            proc = _same_process(child.pid, child.started_at)
            if proc is not None:
                victims.append((name, proc, child.stop_signal))
    for name, cluster in dbs.items():
        pid = cluster.postmaster_pid()
        proc = _same_process(pid, None) if pid else None
        if proc is not None and _is_postmaster_of(proc, cluster):
            if all(v[1].pid != proc.pid for v in victims):
                victims.append((name, proc, int(signal.SIGINT)))
    for name, proc, sig in victims:
        try:
            proc.send_signal(sig)
            proc.send_signal(signal.SIGCONT)
        except psutil.Error:
            continue
        stopped.append(name)
    _gone, alive = psutil.wait_procs([v[1] for v in victims], timeout=timeout)
    for proc in alive:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return stopped


def _same_process(pid: int | None, started_at: float | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        if started_at is not None and abs(proc.create_time() - started_at) >= 1.0:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except psutil.Error:
        return None


def _is_postmaster_of(proc: psutil.Process, cluster: Cluster) -> bool:
    try:
        return str(cluster.data_dir) in proc.cmdline()
    except psutil.Error:
        return False
