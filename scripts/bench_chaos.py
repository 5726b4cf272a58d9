"""Benchmark (not a test): chaos injection and revert latency per fault, and kill-switch time.

Starts its own lab on a fresh state dir and free ports, with the chaos server's concurrency
limits raised for the kill-switch runs. Each fault is injected through the real chaos API
(default target and parameters), reverted, and the lab is awaited healthy before the next.
Every fault has a TTL: a crash of this script leaves nothing behind for long.
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the checks

import httpx
import psutil

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import clusters
from tests.support.chaos_checks import locked_tables, stopped

FaultMix = list[tuple[str, str | None, dict[str, Any]]]
# Faults that can be open together (distinct mechanisms, tables, stubs), cycled for N faults.
KILL_MIX: FaultMix = [
    ("api-latency", None, {}),
    ("db-lock", None, {"table": "products"}),
    ("upstream-outage", "upstream-primary", {}),
    ("api-error-storm", None, {}),
    ("net-db-latency", None, {}),
    ("db-lock", None, {"table": "orders"}),
    ("api-memory-leak", None, {"max_mb": 32}),
    ("db-lock", None, {"table": "inventory"}),
    ("upstream-outage", "upstream-fallback", {}),
    ("noop", None, {}),
]
# Ten faults open at once with the target frozen: api-hang goes in last, since a frozen
# target could not take the in-process hooks of the others.
HANG_MIX: FaultMix = [
    ("api-latency", None, {}),
    ("api-error-storm", None, {}),
    ("api-memory-leak", None, {"max_mb": 32}),
    ("db-lock", None, {"table": "products"}),
    ("db-lock", None, {"table": "orders"}),
    ("upstream-outage", "upstream-primary", {}),
    ("upstream-outage", "upstream-fallback", {}),
    ("upstream-dns", None, {}),
    ("net-db-latency", None, {}),
    ("api-hang", None, {}),
]
LOCKED = [str(params["table"]) for fault, _, params in HANG_MIX if fault == "db-lock"]


def _ready(lab: BackgroundLab, timeout: float = 90.0) -> float:
    """Seconds until the target answers /ready 200 (the lab is steady again)."""
    url = f"http://127.0.0.1:{lab.port('TARGET')}/ready"
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("target not ready again within the timeout")


def _timed(client: httpx.Client, method: str, path: str, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    took = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return took, response.json()


def _open(chaos: httpx.Client, mix: FaultMix) -> list[str]:
    """Inject every fault of `mix`; their ledger ids."""
    ids = []
    for fault, target, params in mix:
        body = {"target": target, "params": params, "ttl_s": 300}
        ids.append(_timed(chaos, "POST", f"/break/{fault}", json=body)[1]["id"])
    return ids


def per_fault(chaos: httpx.Client, lab: BackgroundLab, repeat: int) -> None:
    """Inject and revert each catalogue fault alone."""
    catalogue = [fault["id"] for fault in chaos.get("/catalogue").json()]
    print(
        f"\ninject and revert through the chaos API, median of {repeat} "
        "(ms; `ready` = seconds until /ready is 200 after the revert):"
    )
    print(f"{'fault':<20} {'inject ms':>10} {'revert ms':>10} {'ready s':>8}")
    for fault in sorted(catalogue):
        injects, reverts, readies = [], [], []
        for _ in range(repeat):
            took, row = _timed(chaos, "POST", f"/break/{fault}", json={"ttl_s": 120})
            injects.append(took)
            took, _ = _timed(chaos, "DELETE", f"/faults/{row['id']}")
            reverts.append(took)
            readies.append(_ready(lab))
        print(
            f"{fault:<20} {statistics.median(injects):>10.0f} "
            f"{statistics.median(reverts):>10.0f} {statistics.median(readies):>8.2f}"
        )


def kill_levels(chaos: httpx.Client, lab: BackgroundLab, levels: list[int]) -> None:
    """POST /kill with 1, 3, 10... faults open (the target never frozen)."""
    print("\nkill switch: time for POST /kill to revert every open fault")
    print(f"{'faults':>6} {'kill ms':>9} {'reverted':>9} {'ready s':>8}")
    for level in levels:
        _open(chaos, (KILL_MIX * 2)[:level])
        took, killed = _timed(chaos, "POST", "/kill")
        ready = _ready(lab)
        chaos.post("/kill/release")
        if killed["failed"]:
            raise RuntimeError(f"kill left failures: {killed['failed']}")
        print(f"{level:>6} {took:>9.0f} {len(killed['reverted']):>9} {ready:>8.2f}")


def kill_frozen(chaos: httpx.Client, lab: BackgroundLab, rounds: int) -> None:
    """POST /kill with the ten faults of HANG_MIX open, the target SIGSTOPped among them.

    Right after the answer: is every ledger row `reverted`, the target's process running
    again (psutil), and every locked table readable?
    """
    paths = StatePaths.at(lab.state_dir)
    cluster = clusters(lab.settings(), paths)["target-db"]
    runtime = LocalRuntime.from_state_dir(paths)
    print(f"\nkill switch with {len(HANG_MIX)} faults open, api-hang and db-lock among them:")
    print(f"{'round':>5} {'kill ms':>9} {'all reverted':>13}  left")
    times, clean = [], 0
    try:
        for n in range(1, rounds + 1):
            pid = runtime.status("target").pid
            assert pid is not None
            ids = _open(chaos, HANG_MIX)
            if not stopped(pid) or locked_tables(cluster, LOCKED) != LOCKED:
                raise RuntimeError("the faults did not take: target running or tables free")
            took, _ = _timed(chaos, "POST", "/kill")
            left = ["target stopped"] if stopped(pid) else []
            left += [f"{t} locked" for t in locked_tables(cluster, LOCKED, wait_ms=200)]
            rows = [chaos.get(f"/faults/{fault}").json() for fault in ids]
            left += [f"{r['fault_id']} {r['state']}" for r in rows if r["state"] != "reverted"]
            times.append(took)
            clean += not left
            print(f"{n:>5} {took:>9.0f} {'yes' if not left else 'no':>13}  {', '.join(left)}")
            _ready(lab)
            chaos.post("/kill/release")
    finally:
        runtime.close()
    print(
        f"kill ms median {statistics.median(times):.0f}, max {max(times):.0f}; "
        f"everything reverted when /kill answered in {clean} of {rounds} rounds"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="injections of each fault")
    parser.add_argument("--levels", default="1,3,10", help="concurrent faults for the kill switch")
    parser.add_argument("--rounds", type=int, default=5, help="kills with the target frozen")
    parser.add_argument(
        "--only", choices=("faults", "kill", "kill-frozen"), help="run one part alone"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    state_dir = make_state_dir("breakfix-bench-chaos-")
    env = lab_environment(state_dir)
    env.update({"CHAOS_MAX_CONCURRENT": "10", "CHAOS_MAX_PER_TARGET": "10"})
    lab = BackgroundLab(state_dir, env)
    try:
        lab.start()
        key = read_secret(StatePaths.at(state_dir).secret("chaos.key"))
        url = f"http://127.0.0.1:{lab.port('CHAOS')}"
        with httpx.Client(
            base_url=url, headers={"X-Chaos-Key": key}, timeout=180, trust_env=False
        ) as chaos:
            if args.only in (None, "faults"):
                per_fault(chaos, lab, args.repeat)
            if args.only in (None, "kill"):
                kill_levels(chaos, lab, [int(x) for x in args.levels.split(",")])
            if args.only in (None, "kill-frozen"):
                kill_frozen(chaos, lab, args.rounds)
    finally:
        lab.down()
        remove_state_dir(state_dir)


if __name__ == "__main__":
    main()
