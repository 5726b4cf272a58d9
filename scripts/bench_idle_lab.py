"""Benchmark (not a test): what an idle lab costs the machine, per service.

Starts a lab with observability and the agent (fresh state dir, free ports), lets it settle,
then reads the cumulative CPU time (user + system, children included) of each service's
process tree and of the supervisor at the start and at the end of a quiet window, and
prints the cores each used on average. Nothing is injected; the lab stops by itself.
"""

import argparse
import platform
import time
from datetime import datetime

import psutil

from breakfix.background import running_lab
from lab.process_tree import process_tree


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants (0 when gone)."""
    try:
        procs = process_tree(psutil.Process(pid), None)
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle-s", type=float, default=20.0)
    parser.add_argument("--window-s", type=float, default=60.0)
    args = parser.parse_args()
    with running_lab("breakfix-bench-idle-", observability=True, agent=True) as lab:
        time.sleep(args.settle_s)
        report = lab.status()
        pids = {name: int(s["pid"]) for name, s in report["services"].items() if s.get("pid")}
        assert lab.proc is not None
        supervisor = psutil.Process(lab.proc.pid)  # its own CPU: its tree is the whole lab
        start = {name: tree_cpu_s(pid) for name, pid in pids.items()}
        start_own = sum(supervisor.cpu_times()[:2])
        began = time.monotonic()
        time.sleep(args.window_s)
        took = time.monotonic() - began
        used = {name: (tree_cpu_s(pid) - start[name]) / took for name, pid in pids.items()}
        used["(supervisor)"] = (sum(supervisor.cpu_times()[:2]) - start_own) / took
    cpu = psutil.cpu_count()
    print(f"# idle lab, {took:.0f} s window, {datetime.now():%Y-%m-%d %H:%M}")
    print(f"# {platform.node()} {cpu} CPUs, load average {psutil.getloadavg()[0]:.2f}")
    print(f"{'service':<22}{'cores':>8}")
    for name, cores in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"{name:<22}{cores:>8.3f}")
    print(f"{'total':<22}{sum(used.values()):>8.3f}")


if __name__ == "__main__":
    main()
