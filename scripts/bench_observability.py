"""Benchmark (not a test): observability's own cost, and time to detect each catalogue fault.

Starts its own lab with observability on (fresh state dir, free ports) and prints, in one run:
1. observability's CPU (cores) and RSS, sampled at 1 Hz with psutil on its process tree;
2. the target's p50/p99 under the same bounded mixed load with observability running and
   stopped (the supervisor stops and starts it), rounds alternating;
3. time to detect each catalogue fault but noop, from the same injection, by the built-in
   detector (a firing alert in observability's GET /alerts) and by real Prometheus and
   Alertmanager under a conventional configuration (scrape and evaluation every 15 s, the
   shipped rules.yml, Alertmanager's default grouping: group_wait 30 s) delivering to a
   webhook receiver in this script.
Every wait is bounded; everything stops by itself.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil

from breakfix.background import (
    PORT_VARS,
    BackgroundLab,
    lab_environment,
    make_state_dir,
    remove_state_dir,
)
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.ports import free_port
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from observability.stack.alerting import Grouping
from observability.stack.api import PrometheusAPI
from observability.stack.files import write_stack
from observability.stack.processes import StackProcess, alertmanager, prometheus
from observability.stack.scrape import Timing

# Alertmanager's own defaults: the configuration a team gets when it sets nothing.
CONVENTIONAL_GROUPING = Grouping(group_wait="30s", group_interval="5m", repeat_interval="4h")
Key = tuple[str, str]  # (fingerprint or label set, start time): one episode of one alert


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def _wait(check: Callable[[], bool], timeout: float, step: float = 0.5) -> float | None:
    """Seconds until `check()` holds, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(step)
    return None


# --- 1. observability's own cost ------------------------------------------------------------


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def sample_cost(pid: int, seconds: int) -> tuple[list[float], list[float]]:
    """CPU (cores) and RSS (MiB) of process `pid`, once a second (observability starts no
    child process: its probes and log tails run in its own threads)."""
    proc = psutil.Process(pid)
    cores, rss = [], []
    last_cpu, last_t = _cpu_s(proc), time.monotonic()
    for _ in range(seconds):
        time.sleep(1.0)
        cpu, now = _cpu_s(proc), time.monotonic()
        cores.append((cpu - last_cpu) / (now - last_t))
        rss.append(proc.memory_info().rss / 2**20)
        last_cpu, last_t = cpu, now
    return cores, rss


# --- 2. target latency with and without observability ---------------------------------------


@dataclass
class Round:
    mode: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    obs_cores: float | None = None


async def _operation(client: httpx.AsyncClient, rng: random.Random, ids: list[int]) -> bool:
    roll = rng.random()
    if roll < 0.6:
        return (await client.get(f"/products/{rng.choice(ids)}")).status_code == 200
    if roll < 0.8:
        return (await client.get("/products", params={"limit": 20})).status_code == 200
    # Place then cancel: an order workload that leaves stock where it was.
    body = {"items": [{"product_id": rng.choice(ids), "quantity": 1}]}
    placed = await client.post("/orders", json=body)
    if placed.status_code != 201:
        return False
    return (await client.post(f"/orders/{placed.json()['id']}/cancel")).status_code == 200


async def _load(
    url: str, result: Round, *, concurrency: int, requests: int, ids: list[int]
) -> None:
    """`requests` mixed operations from `concurrency` clients, timed into `result`."""
    budget, rng = [requests], random.Random(concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            try:
                ok = await _operation(client, rng, ids)
            except httpx.HTTPError:
                ok = False
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.errors += 0 if ok else 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10, trust_env=False) as c:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - started


# --- 3. detection: the built-in detector and Prometheus + Alertmanager ----------------------


class Webhooks:
    """A receiver for Alertmanager: every body posted to /alerts, with its arrival time."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with received.lock:
                    received.received.append((time.monotonic(), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/alerts"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def firing(self, since: float) -> list[tuple[float, dict[str, Any]]]:
        """(arrival, alert) of every firing alert in notifications received after `since`."""
        with self.lock:
            bodies = [(t, b) for t, b in self.received if t >= since]
        return [(t, a) for t, b in bodies for a in b["alerts"] if a["status"] == "firing"]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def _epoch(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (nanoseconds cut to microseconds)."""
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", stamp.replace("Z", "+00:00"))
    return datetime.fromisoformat(stamp).timestamp()


@dataclass
class Detection:
    """When (seconds after the injection) and by which alert a path first reported."""

    seconds: float | None = None
    alert: str = ""

    def found(self, seconds: float, labels: dict[str, str]) -> None:
        if self.seconds is None:
            self.seconds = seconds
            self.alert = f"{labels.get('alertname', '?')}/{labels.get('service', '?')}"

    def cell(self) -> str:
        return "-" if self.seconds is None else f"{self.seconds:.1f}"


@dataclass
class FaultRun:
    fault: str
    target: str = ""
    inject_s: float = 0.0
    builtin: Detection = field(default_factory=Detection)
    rule: Detection = field(default_factory=Detection)  # Prometheus shows the alert firing
    notified: Detection = field(default_factory=Detection)  # Alertmanager's webhook arrived
    settle_s: float = 0.0
    unsettled: str = ""


class Paths:
    """The three places an alert shows up: observability's /alerts, Prometheus, the webhook.

    Each lists (start time, labels) of its firing alerts; an alert counts for a fault when
    it started after the injection, so one still firing from the fault before never does.
    """

    def __init__(self, obs_url: str, prom: PrometheusAPI, hooks: Webhooks) -> None:
        self.obs = httpx.Client(base_url=obs_url, timeout=5, trust_env=False)
        self.prom, self.hooks = prom, hooks

    def builtin(self) -> list[tuple[float, dict[str, str]]]:
        return [
            (_epoch(a["startsAt"]), a["labels"])
            for a in self.obs.get("/alerts").json()
            if a["status"] == "firing"
        ]

    def prometheus(
        self, states: tuple[str, ...] = ("firing",)
    ) -> list[tuple[float, dict[str, str]]]:
        return [
            (_epoch(a["activeAt"]), a["labels"]) for a in self.prom.alerts() if a["state"] in states
        ]

    def notified(self, since: float) -> list[tuple[float, float, dict[str, str]]]:
        """(arrival, start, labels) of firing alerts in webhooks that arrived after `since`."""
        return [(t, _epoch(a["startsAt"]), a["labels"]) for t, a in self.hooks.firing(since)]

    def close(self) -> None:
        self.obs.close()


def detect(
    paths: Paths, chaos: httpx.Client, fault: str, *, timeout: float
) -> tuple[FaultRun, str]:
    """Inject `fault`, then watch every path until both report or `timeout` passes.

    Both clocks start as POST /break is sent; an alert counts when it is on the fault's
    target or on the target API (where most faults show first) and started after that.
    """
    run = FaultRun(fault)
    wall, started = time.time() - 1.0, time.monotonic()  # 1 s slack for timestamp rounding
    response = chaos.post(f"/break/{fault}", json={"ttl_s": timeout + 300})
    run.inject_s = time.monotonic() - started
    if response.status_code != 201:
        raise RuntimeError(f"POST /break/{fault}: {response.status_code} {response.text}")
    row = response.json()
    run.target = row["target"]
    services = {row["target"], "target"}

    def ours(start: float, labels: dict[str, str]) -> bool:
        return start >= wall and labels.get("service") in services

    while time.monotonic() - started < timeout and (
        run.builtin.seconds is None or run.notified.seconds is None
    ):
        now = time.monotonic() - started
        try:
            for start, labels in paths.builtin():
                if ours(start, labels):
                    run.builtin.found(now, labels)
            for start, labels in paths.prometheus():
                if ours(start, labels):
                    run.rule.found(now, labels)
        except httpx.HTTPError:
            pass  # busy for a moment (the machine is shared): read again next turn
        for arrived, start, labels in paths.notified(since=started):
            if ours(start, labels):
                run.notified.found(arrived - started, labels)
        time.sleep(0.5)
    return run, str(row["id"])


def settle(paths: Paths, target_url: str, *, timeout: float) -> tuple[float, str]:
    """Wait until /ready is 200 and neither path has an alert firing or pending.

    Returns the seconds it took and what did not settle within `timeout` (each wait).
    """
    started = time.monotonic()
    ready = _wait(
        lambda: httpx.get(f"{target_url}/ready", timeout=3, trust_env=False).status_code == 200,
        timeout,
    )
    quiet = _wait(lambda: not paths.builtin(), timeout)
    prom_quiet = _wait(lambda: not paths.prometheus(("pending", "firing")), timeout, step=2.0)
    waits = (("/ready", ready), ("built-in alerts", quiet), ("Prometheus alerts", prom_quiet))
    return time.monotonic() - started, ", ".join(what for what, took in waits if took is None)


# --- the run --------------------------------------------------------------------------------


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}; "
        f"load average {load}"
    )


def _settings(lab: BackgroundLab) -> LabSettings:
    ports: dict[str, Any] = {var.lower(): lab.port(var.removesuffix("_PORT")) for var in PORT_VARS}
    return LabSettings(_env_file=None, state_dir=lab.state_dir, **ports)


def _obs_pid(lab: BackgroundLab) -> int:
    pid = lab.status()["services"]["observability"]["pid"]
    if pid is None:
        raise RuntimeError("observability is not running")
    return int(pid)


def measure_cost(lab: BackgroundLab, seconds: int) -> None:
    cores, mib = sample_cost(_obs_pid(lab), seconds)
    print(
        f"\n1. observability's own cost, full lab idle but for its own probes, {seconds} s at 1 Hz"
    )
    print(f"{'':>12} {'mean':>8} {'p95':>8} {'max':>8}")
    print(
        f"{'CPU cores':>12} {statistics.fmean(cores):>8.3f} {_quantile(cores, 0.95):>8.3f} "
        f"{max(cores):>8.3f}"
    )
    print(
        f"{'RSS MiB':>12} {statistics.fmean(mib):>8.1f} {_quantile(mib, 0.95):>8.1f} "
        f"{max(mib):>8.1f}"
    )


def measure_load(lab: BackgroundLab, runtime: LocalRuntime, args: argparse.Namespace) -> None:
    url = f"http://127.0.0.1:{lab.port('TARGET')}"
    ids = [p["id"] for p in httpx.get(f"{url}/products", params={"limit": 100}).json()]
    asyncio.run(_load(url, Round("warm-up"), concurrency=4, requests=200, ids=ids))
    rounds: list[Round] = []
    for index in range(args.rounds * 2):
        on = index % 2 == 0
        if on != (runtime.status("observability").pid is not None):
            (runtime.start if on else runtime.stop)("observability")
            if (
                on
                and _wait(
                    lambda: lab.status()["services"]["observability"]["health"] == "healthy", 60
                )
                is None
            ):
                raise RuntimeError("observability not healthy again")
            time.sleep(5)  # its collectors settle into their 1 Hz rhythm
        result = Round("running" if on else "stopped")
        proc = psutil.Process(_obs_pid(lab)) if on else None
        cpu = _cpu_s(proc) if proc is not None else 0.0
        asyncio.run(
            _load(url, result, concurrency=args.concurrency, requests=args.requests, ids=ids)
        )
        if proc is not None:
            result.obs_cores = (_cpu_s(proc) - cpu) / result.elapsed_s
        rounds.append(result)
    if runtime.status("observability").pid is None:
        runtime.start("observability")
    print(
        f"\n2. target under load, {args.requests} mixed operations at concurrency "
        f"{args.concurrency} per round (60% read, 20% list, 20% order+cancel), rounds alternating"
    )
    print(
        f"{'observability':>13} {'ops/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'obs cores':>10}"
    )
    for mode in ("running", "stopped"):
        mine = [r for r in rounds if r.mode == mode]
        for r in mine:
            cores = f"{r.obs_cores:.3f}" if r.obs_cores is not None else "-"
            print(
                f"{mode:>13} {len(r.latencies_ms) / r.elapsed_s:>7.0f} "
                f"{_quantile(r.latencies_ms, 0.5):>8.1f} {_quantile(r.latencies_ms, 0.99):>8.1f} "
                f"{r.errors:>7} {cores:>10}"
            )
        pooled = [x for r in mine for x in r.latencies_ms]
        print(
            f"{mode + ' (all)':>13} {len(pooled) / sum(r.elapsed_s for r in mine):>7.0f} "
            f"{_quantile(pooled, 0.5):>8.1f} {_quantile(pooled, 0.99):>8.1f} "
            f"{sum(r.errors for r in mine):>7}"
        )


def measure_detection(
    lab: BackgroundLab, settings: LabSettings, home: Path, args: argparse.Namespace
) -> None:
    paths_of_lab = StatePaths.at(lab.state_dir)
    hooks = Webhooks()
    am_port = free_port()
    files = write_stack(
        home / "config",
        settings=settings,
        chaos_key_file=paths_of_lab.secret("chaos.key"),
        webhook_url=hooks.url,
        alertmanagers=[f"127.0.0.1:{am_port}"],
        timing=Timing(),  # 15 s scrape, 10 s timeout, 15 s evaluation
        grouping=CONVENTIONAL_GROUPING,
    )  # rules: the shipped rules.yml as it is
    key = read_secret(paths_of_lab.secret("chaos.key"))
    chaos = httpx.Client(
        base_url=f"http://127.0.0.1:{lab.port('CHAOS')}",
        headers={"X-Chaos-Key": key},
        timeout=180,
        trust_env=False,
    )
    target_url = f"http://127.0.0.1:{lab.port('TARGET')}"
    am: StackProcess | None = None
    runs: list[FaultRun] = []
    with prometheus(files.prometheus, data_dir=home / "prom") as prom:
        api = PrometheusAPI(prom.url)
        paths = Paths(f"http://127.0.0.1:{lab.port('OBSERVABILITY')}", api, hooks)
        try:
            catalogue = [f["id"] for f in chaos.get("/catalogue").json() if f["id"] != "noop"]
            faults = args.faults.split(",") if args.faults else sorted(catalogue)
            up = _wait(lambda: {t["health"] for t in api.targets()} == {"up"}, 90, step=1.0)
            print(
                f"\n3. time to detect, seconds from POST /break (both clocks), bound "
                f"{args.timeout:.0f} s; Prometheus scraping every target "
                f"{'after ' + format(up, '.0f') + ' s' if up is not None else 'NOT all up'}"
            )
            print(
                "   built-in: a firing alert in observability's GET /alerts; Prometheus: the rule "
                "firing; Alertmanager:\n   its webhook arriving (fresh Alertmanager per fault, "
                "so no aggregation group is left over)"
            )
            print(
                f"{'fault':<19} {'target':<16} {'inject':>6} {'built-in':>8} {'prom rule':>9} "
                f"{'webhook':>8} {'steady':>6}"
            )
            for fault in faults:
                if am is not None:
                    am.stop()
                am = alertmanager(
                    files.alertmanager, data_dir=home / f"am-{fault}", port=am_port
                ).start()
                run = measure_fault(paths, chaos, fault, target_url, args)
                runs.append(run)
                print(
                    f"{fault:<19} {run.target:<16} {run.inject_s:>6.1f} {run.builtin.cell():>8} "
                    f"{run.rule.cell():>9} {run.notified.cell():>8} {run.settle_s:>6.0f}"
                    + (f"  ({run.unsettled})" if run.unsettled else ""),
                    flush=True,
                )
        finally:
            if am is not None:
                am.stop()
            paths.close()
            api.close()
            chaos.close()
            hooks.close()
    _summary(runs)


def measure_fault(
    paths: Paths, chaos: httpx.Client, fault: str, target_url: str, args: argparse.Namespace
) -> FaultRun:
    """One fault: inject and watch, revert, wait for the lab to be steady again."""
    try:
        run, fault_key = detect(paths, chaos, fault, timeout=args.timeout)
    except (RuntimeError, httpx.HTTPError) as exc:
        run = FaultRun(fault, unsettled=f"not injected: {exc}")
        run.settle_s, _ = settle(paths, target_url, timeout=args.settle)
        return run
    problems = []
    try:
        reverted = chaos.delete(f"/faults/{fault_key}")
        if reverted.status_code != 200:
            problems.append(f"revert answered {reverted.status_code}")
    except httpx.HTTPError as exc:
        problems.append(f"revert failed: {exc!r}")
    run.settle_s, left = settle(paths, target_url, timeout=args.settle)
    if left:
        problems.append(f"not steady: {left}")
    run.unsettled = "; ".join(problems)
    return run


def _summary(runs: list[FaultRun]) -> None:
    print("\nfirst alert on each path (alertname/service):")
    print(f"{'fault':<19} {'built-in':<40} {'prom rule':<34} {'webhook':<34}")
    for r in runs:
        print(
            f"{r.fault:<19} {r.builtin.alert or '-':<40} {r.rule.alert or '-':<34} "
            f"{r.notified.alert or '-':<34}"
        )
    builtin = [r.builtin.seconds for r in runs if r.builtin.seconds is not None]
    notified = [r.notified.seconds for r in runs if r.notified.seconds is not None]
    print()
    for name, found in (("built-in detector", builtin), ("Prometheus + Alertmanager", notified)):
        if found:
            print(
                f"{name:>26}: detected {len(found)} of {len(runs)}, median "
                f"{statistics.median(found):.1f} s, max {max(found):.1f} s"
            )
        else:
            print(f"{name:>26}: detected 0 of {len(runs)}")
    for name, missed in (
        ("built-in missed", [r.fault for r in runs if r.builtin.seconds is None]),
        ("webhook missed", [r.fault for r in runs if r.notified.seconds is None]),
    ):
        if missed:
            print(f"{name:>26}: {', '.join(missed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="1 Hz cost samples")
    parser.add_argument("--requests", type=int, default=1500, help="operations per load round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="load rounds per mode")
    parser.add_argument("--faults", default="", help="comma-separated; all but noop if empty")
    parser.add_argument("--timeout", type=float, default=150, help="detection bound, s")
    parser.add_argument("--settle", type=float, default=120, help="bound of each settle wait, s")
    parser.add_argument("--skip", default="", help="parts to leave out: cost,load,detect")
    args = parser.parse_args()
    skip = set(args.skip.split(",")) - {""}
    print(_machine())
    begun = time.monotonic()
    state_dir = make_state_dir("breakfix-bench-obs-")
    lab = BackgroundLab(state_dir, lab_environment(state_dir, observability=True))
    runtime: LocalRuntime | None = None
    try:
        lab.start(timeout=180)
        runtime = LocalRuntime.from_state_dir(StatePaths.at(state_dir))
        time.sleep(10)  # observability's first collections and its detector's windows fill
        if "cost" not in skip:
            measure_cost(lab, args.seconds)
        if "load" not in skip:
            measure_load(lab, runtime, args)
        if "detect" not in skip:
            measure_detection(lab, _settings(lab), state_dir / "stack", args)
    finally:
        if runtime is not None:
            runtime.close()
        lab.down()
        remove_state_dir(state_dir)
    print(f"\n{_machine().split('; ')[1]} at the end; total {time.monotonic() - begun:.0f} s")


if __name__ == "__main__":
    main()
