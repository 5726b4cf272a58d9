"""Benchmark (not a test): the action server's dry-run latency under load, and action times.

Starts its own lab on a fresh state dir and free ports (rate limits raised for the run);
every load level is bounded by a request count and everything stops by itself.
"""

import argparse
import asyncio
import platform
import statistics
import time

import httpx
import psutil

from action_server.client import ActionClient
from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir

DRY_RUNS = ("restart-api", "clear-cache", "switch-to-fallback", "run-migrations")


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def _dry_runs(
    url: str, key: str, concurrency: int, total: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    budget = [total]
    headers = {"X-API-Key": key}

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors
        i = offset
        while budget[0] > 0:
            budget[0] -= 1
            name = DRY_RUNS[i % len(DRY_RUNS)]
            i += 1
            started = time.perf_counter()
            response = await client.post(
                f"/action/{name}", params={"dry_run": "true"}, headers=headers
            )
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30, trust_env=False) as c:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, n) for n in range(concurrency)))
        return time.perf_counter() - started, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="dry runs per level")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed action")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    state_dir = make_state_dir("breakfix-bench-actions-")
    env = lab_environment(state_dir)
    env.update(
        {f"ACTION_RATE_{c}": "1000000/minute" for c in ("READ", "DRY_RUN", "LOW", "MEDIUM", "HIGH")}
    )
    env["ACTION_SNAPSHOT_INTERVAL_S"] = "0"
    lab = BackgroundLab(state_dir, env)
    try:
        lab.start()
        key = lab.cli("keys", "create", "--scope", "admin", "--name", "bench").stdout.split()[-1]
        url = f"http://127.0.0.1:{lab.port('ACTION')}"
        print(
            f"\ndry runs ({', '.join(DRY_RUNS)}), authenticated and rate limited, "
            f"{args.requests} per level:"
        )
        print(f"{'concurrency':>11} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for level in (int(x) for x in args.levels.split(",")):
            elapsed, lat, errors = asyncio.run(_dry_runs(url, key, level, args.requests))
            print(
                f"{level:>11} {len(lat) / elapsed:>7.0f} {_quantile(lat, 0.5):>8.1f} "
                f"{_quantile(lat, 0.99):>8.1f} {errors:>7}"
            )
        print(f"\nwall time of real actions on the seeded data set (median of {args.repeat}):")
        with ActionClient(url, key) as client:
            client.act("snapshot-db", {"label": "bench"})
            for name in ("restart-api", "restart-db", "restore-db"):
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    run = client.act(name, wait=True)
                    times.append(time.perf_counter() - started)
                    assert run.status == "succeeded", run
                print(
                    f"  {name:<12} {statistics.median(times):6.2f} s  "
                    f"(min {min(times):.2f}, max {max(times):.2f})"
                )
    finally:
        lab.down()
        remove_state_dir(state_dir)


if __name__ == "__main__":
    main()
