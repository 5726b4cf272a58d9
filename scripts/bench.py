"""Benchmark (not a test): cold `breakfix run` to all-ready, then target API load figures.

Runs its own lab on a fresh state dir and free ports, so it never touches a running lab.
Every load level is bounded by a request count; everything stops by itself.
"""

import argparse
import asyncio
import platform
import random
import re
import statistics
import time
from dataclasses import dataclass, field

import httpx
import psutil

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir


@dataclass
class Level:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0


async def _worker(
    client: httpx.AsyncClient, level: Level, budget: list[int], ids: list[int], rng: random.Random
) -> None:
    while budget[0] > 0:
        budget[0] -= 1
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.6:
                response = await client.get(f"/products/{rng.choice(ids)}")
                ok = response.status_code == 200
            elif roll < 0.8:
                response = await client.get("/products", params={"limit": 20})
                ok = response.status_code == 200
            else:  # place then cancel: an order workload that leaves stock where it was
                response = await client.post(
                    "/orders", json={"items": [{"product_id": rng.choice(ids), "quantity": 1}]}
                )
                ok = response.status_code == 201
                if ok:
                    cancel = await client.post(f"/orders/{response.json()['id']}/cancel")
                    ok = cancel.status_code == 200
        except httpx.HTTPError:
            ok = False
        level.latencies_ms.append((time.perf_counter() - started) * 1000)
        level.errors += 0 if ok else 1


async def _load(base_url: str, concurrency: int, requests: int, ids: list[int]) -> Level:
    level = Level(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=10, trust_env=False
    ) as client:
        budget, rng = [requests], random.Random(concurrency)
        started = time.perf_counter()
        await asyncio.gather(
            *(_worker(client, level, budget, ids, rng) for _ in range(concurrency))
        )
        level.elapsed_s = time.perf_counter() - started
    return level


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def _reported(lab: BackgroundLab) -> str:
    """The last start-up time the supervisor logged ("lab ready in 3.7s")."""
    found = re.findall(r"lab ready in ([0-9.]+)s", lab.output.read_text())
    return f"{found[-1]} s" if found else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1500, help="operations per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels")
    args = parser.parse_args()

    print(
        f"machine: {platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    state_dir = make_state_dir("breakfix-bench-")
    lab = BackgroundLab(state_dir, lab_environment(state_dir))
    try:
        started = time.perf_counter()
        lab.start()
        print(
            f"cold `breakfix run` to all services ready (fresh state dir): "
            f"{time.perf_counter() - started:.2f} s wall, {_reported(lab)} by the supervisor"
        )
        lab.down()
        started = time.perf_counter()
        lab.start()
        print(
            f"warm `breakfix run` to all services ready (existing state dir): "
            f"{time.perf_counter() - started:.2f} s wall, {_reported(lab)} by the supervisor"
        )

        base_url = f"http://127.0.0.1:{lab.port('TARGET')}"
        ids = [p["id"] for p in httpx.get(f"{base_url}/products", params={"limit": 100}).json()]
        asyncio.run(_load(base_url, 4, 200, ids))  # warm-up: pools, caches
        print(
            f"\nmixed workload, {args.requests} operations per level "
            "(60% product read, 20% list, 20% order+cancel):"
        )
        print(f"{'concurrency':>11} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for concurrency in (int(c) for c in args.levels.split(",")):
            level = asyncio.run(_load(base_url, concurrency, args.requests, ids))
            print(
                f"{concurrency:>11} {len(level.latencies_ms) / level.elapsed_s:>8.0f} "
                f"{_quantile(level.latencies_ms, 0.50):>8.1f} "
                f"{_quantile(level.latencies_ms, 0.99):>8.1f} {level.errors:>7}"
            )
    finally:
        lab.down()
        remove_state_dir(state_dir)


if __name__ == "__main__":
    main()
