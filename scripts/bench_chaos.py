"""Benchmark (not a test): chaos injection and revert latency per fault, and kill-switch time.

Starts its own lab on a fresh state dir and free ports, with the chaos server's concurrency
limits raised for the kill-switch run. Each fault is injected through the real chaos API
(default target and parameters), reverted, and the lab is awaited healthy before the next.
Every fault has a TTL: a crash of this script leaves nothing behind for long.
"""

import argparse
import platform
import statistics
import time
from typing import Any

import httpx
import psutil

from lab.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.paths import StatePaths
from lab.secrets import read_secret

# Faults that can be open together (distinct mechanisms, tables, stubs), cycled for N faults.
KILL_MIX: list[tuple[str, str | None, dict[str, Any]]] = [
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="injections of each fault")
    parser.add_argument("--levels", default="1,3,10", help="concurrent faults for the kill switch")
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
            catalogue = [fault["id"] for fault in chaos.get("/catalogue").json()]
            print(
                f"\ninject and revert through the chaos API, median of {args.repeat} "
                "(ms; `ready` = seconds until /ready is 200 after the revert):"
            )
            print(f"{'fault':<20} {'inject ms':>10} {'revert ms':>10} {'ready s':>8}")
            for fault in sorted(catalogue):
                injects, reverts, readies = [], [], []
                for _ in range(args.repeat):
                    took, row = _timed(chaos, "POST", f"/break/{fault}", json={"ttl_s": 120})
                    injects.append(took)
                    took, _ = _timed(chaos, "DELETE", f"/faults/{row['id']}")
                    reverts.append(took)
                    readies.append(_ready(lab))
                print(
                    f"{fault:<20} {statistics.median(injects):>10.0f} "
                    f"{statistics.median(reverts):>10.0f} {statistics.median(readies):>8.2f}"
                )
            print("\nkill switch: time for POST /kill to revert every open fault")
            print(f"{'faults':>6} {'kill ms':>9} {'reverted':>9} {'ready s':>8}")
            for level in (int(x) for x in args.levels.split(",")):
                for fault, target, params in (KILL_MIX * 2)[:level]:
                    body = {"target": target, "params": params, "ttl_s": 300}
                    _timed(chaos, "POST", f"/break/{fault}", json=body)
                took, killed = _timed(chaos, "POST", "/kill")
                ready = _ready(lab)
                chaos.post("/kill/release")
                if killed["failed"]:
                    raise RuntimeError(f"kill left failures: {killed['failed']}")
                print(f"{level:>6} {took:>9.0f} {len(killed['reverted']):>9} {ready:>8.2f}")
    finally:
        lab.down()
        remove_state_dir(state_dir)


if __name__ == "__main__":
    main()
