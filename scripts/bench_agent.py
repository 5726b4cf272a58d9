"""Benchmark (not a test): the agent's alert intake with deduplication, and per fault the
time from injection to detection, to diagnosis and to verified recovery.

(a) Intake: an in-process agent app (real HTTP on 127.0.0.1, uvicorn in a thread) on a
    freshly migrated database of the lab's ops-db cluster, with a pipeline that only counts
    submissions (nothing acts), takes N identical Alertmanager payloads and then M distinct
    ones from C concurrent clients: requests per second, and incidents opened.
(b) Faults: the lab's own agent (deterministic mode, approvals off, no cooldown, 5 s
    verification hold), each fault injected through the lab's chaos server with the
    chaos key, the incidents opened after it awaited closed; seconds from the injection
    request to the incident's detected_at (first alert), diagnosed_at and mitigated_at
    (verified recovery), then the fault reverted and the lab awaited steady.

Starts its own lab on a fresh state dir and free ports; bounded by --budget-s (faults not
reached in time are listed as skipped). Every fault has a TTL: a crash of this script
leaves nothing behind for long.
"""

import argparse
import os
import platform
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.evals: the harness
for _var, _value in {
    "HF_HUB_OFFLINE": "1",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ.setdefault(_var, _value)

import httpx  # noqa: E402
import psutil  # noqa: E402

from gameday.cases import load_cases  # noqa: E402
from gameday.chaos_faults import inject, revert  # noqa: E402
from gameday.errors import GamedayError  # noqa: E402
from gameday.incidents import agent_actions, wait_closed, when  # noqa: E402
from gameday.side_actions import restore_primary_routes, snapshot  # noqa: E402
from gameday.steady import wait_steady  # noqa: E402
from lab import ops_db  # noqa: E402
from lab.postgres import Cluster  # noqa: E402
from lab.services import clusters  # noqa: E402
from tests.support.agent_server import CountingPipeline, serving_agent  # noqa: E402
from tests.support.eval_lab import EvalLab, running_eval_lab  # noqa: E402

STEADY_WITHIN_S = 150.0


def alertmanager_payload(n: int, *, distinct: bool, started: datetime) -> dict[str, Any]:
    """An Alertmanager v4 webhook with one firing alert: the same one, or the n-th distinct."""
    name = f"BenchAlert{n}" if distinct else "BenchAlert"
    service = f"bench-{n}" if distinct else "bench"
    fingerprint = f"{n:016x}" if distinct else "00000000000bench"
    labels = {"alertname": name, "service": service, "severity": "warning"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "receiver": "agent",
        "groupLabels": {"service": service},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "benchmark alert"},
        "externalURL": "http://127.0.0.1",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "benchmark alert"},
                "startsAt": started.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1/bench",
                "fingerprint": fingerprint,
            }
        ],
    }


@contextmanager
def intake_agent(cluster: Cluster, pipeline: CountingPipeline) -> Iterator[str]:
    """An agent app on a fresh migrated database of `cluster` (the lab's ops-db); its URL."""
    password, dbname = secrets.token_urlsafe(16), f"bench_intake_{secrets.token_hex(3)}"
    cluster.ensure_database(role=dbname, password=password, dbname=dbname)
    url = cluster.dsn(role=dbname, password=password, dbname=dbname)
    url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    ops_db.upgrade(url)
    with serving_agent(url, pipeline) as (base, token):
        yield base + "|" + token


def post_all(
    base: str, token: str, payloads: list[dict[str, Any]], concurrency: int
) -> tuple[float, list[int], list[float], int]:
    """Post every payload from `concurrency` clients: seconds, status codes, latencies (ms),
    and how many alerts the agent counted as duplicates."""
    chunks = [payloads[i::concurrency] for i in range(concurrency)]
    codes: list[int] = []
    latencies: list[float] = []
    duplicates = [0]
    lock = threading.Lock()

    def worker(chunk: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60, trust_env=False) as http:
            for body in chunk:
                started = time.perf_counter()
                response = http.post("/webhook/alertmanager", json=body)
                took = (time.perf_counter() - started) * 1000
                seen = response.json().get("duplicates", 0) if response.is_success else 0
                with lock:
                    codes.append(response.status_code)
                    latencies.append(took)
                    duplicates[0] += int(seen)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, chunks))
    return time.perf_counter() - started, codes, latencies, duplicates[0]


def bench_intake(lab: EvalLab, identical: int, distinct: int, concurrency: int) -> None:
    """(a) Intake throughput with deduplication."""
    pipeline = CountingPipeline()
    started = datetime.now(UTC) - timedelta(seconds=5)
    print(f"\nalert intake: {concurrency} concurrent clients, Alertmanager v4 payloads")
    print(
        f"{'payloads':<22}{'posts':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}"
        f"{'duplicates':>11}{'opened':>8}"
    )
    with intake_agent(clusters(lab.settings, lab.paths)["ops-db"], pipeline) as where:
        base, token = where.split("|", 1)
        for label, count, is_distinct in (
            ("identical", identical, False),
            ("distinct", distinct, True),
        ):
            before = len(pipeline.submitted)
            payloads = [
                alertmanager_payload(n, distinct=is_distinct, started=started) for n in range(count)
            ]
            took, codes, latencies, dups = post_all(base, token, payloads, concurrency)
            bad = sum(1 for c in codes if not 200 <= c < 300)
            opened = len(pipeline.submitted) - before
            p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else 0.0
            print(
                f"{label:<22}{count:>7}{count / took:>8.0f}{statistics.median(latencies):>8.1f}"
                f"{p99:>8.1f}{bad:>8}{dups:>11}{opened:>8}"
            )


def _after(incident: dict[str, Any], name: str, since: float) -> str:
    moment = when(incident.get(name))
    return "-" if moment is None else f"{moment - since:.1f}"


def bench_faults(lab: EvalLab, faults: list[str], budget_s: float) -> None:
    """(b) Per fault: injection -> detection -> diagnosis -> verified recovery."""
    cases = {c.fault: c for c in load_cases() if c.expected.state != "none"}
    deadline = time.monotonic() + budget_s
    print("\nagent response per fault: seconds from the injection request to the incident's")
    print("detected_at (TTD), diagnosed_at and mitigated_at (verified recovery, TTM)")
    print(
        f"{'fault':<20}{'ttd_s':>7}{'diag_s':>8}{'ttm_s':>7}  {'state':<10}{'diagnosis':<20}actions"
    )
    for fault in faults:
        case = cases.get(fault)
        if case is None:
            print(f"{fault:<20}  no case for it")
            continue
        if time.monotonic() + case.timeout_s + STEADY_WITHIN_S > deadline:
            print(f"{fault:<20}  skipped: over --budget-s")
            continue
        try:
            wait_steady(lab, STEADY_WITHIN_S, f"before {fault}")
        except (AssertionError, GamedayError) as exc:
            print(f"{fault:<20}  skipped: {exc}")
            continue
        if case.expected.action == "restore-db":
            snapshot(lab)
        injected = inject(lab, case.fault, target=case.target, params=case.params)
        try:
            closed = wait_closed(lab, injected.requested_at, case.timeout_s)
            seen = agent_actions(lab, injected.requested_at)
            incident = next((i for i in closed if i.get("fault") == fault), closed[0])

            actions = ", ".join(f"{a.action}:{a.outcome}" for a in seen) or "-"
            since = injected.requested_at
            times = "".join(
                f"{_after(incident, name, since):>{width}}"
                for name, width in (("detected_at", 7), ("diagnosed_at", 8), ("mitigated_at", 7))
            )
            print(
                f"{fault:<20}{times}  {incident['state']:<10}"
                f"{str(incident.get('fault')):<20}{actions}"
            )
        except (AssertionError, GamedayError) as exc:
            print(f"{fault:<20}      -       -      -  {str(exc)[:100]}")
        finally:
            revert(lab, injected)
            restore_primary_routes(lab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--identical", type=int, default=2000, help="identical payloads")
    parser.add_argument("--distinct", type=int, default=200, help="distinct payloads")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--faults", default="all", help="comma-separated fault ids, or all")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--budget-s", type=float, default=1500.0, help="bound on the fault run")
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()} "
        f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    everything = [c.fault for c in load_cases() if c.expected.state != "none"]
    faults = everything if args.faults == "all" else args.faults.split(",")
    with running_eval_lab("breakfix-bench-agent-") as lab:
        if not args.skip_intake:
            bench_intake(lab, args.identical, args.distinct, args.concurrency)
        if not args.skip_faults:
            bench_faults(lab, faults, args.budget_s)


if __name__ == "__main__":
    main()
