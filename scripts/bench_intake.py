"""Benchmark (not a test): the agent's alert intake under an alert storm, in alerts per second.

The agent app (uvicorn on 127.0.0.1, loop and HTTP parser as `python -m agent` picks them)
runs in this process on a freshly migrated ops-db database of its own embedded Postgres,
with a pipeline that only counts submissions (nothing acts). The clients are separate
processes, each keeping several HTTP/1.1 keep-alive connections busy with pre-encoded
Alertmanager v4 posts, so that the client's own parsing does not stand between the
agent and its load. Two storms, each on a fresh database:

- identical: every post re-sends the same group of alerts (Alertmanager's repeat
  notification); after the first, every alert is a duplicate.
- distinct, one outage: every alert is new (its own `instance`), all of one service under a
  few alert names, as when one outage fires on every replica; they must make one incident.

Each storm is run with one alert per post and with a few alerts per post (Alertmanager
batches the alerts of a group into one notification). Printed per row: posts and alerts per
second, latency per post, non-2xx answers, then the count check read back from ops-db
(alerts recorded + duplicates counted == alerts posted, and the received counts sum to the
alerts posted: nothing lost) and the incidents opened, and whether the target is met.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import platform
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: Postgres


import psutil

from tests.support.agent_server import CountingPipeline, serving_agent, stored_alerts
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster, make_state_dir, remove_state_dir, running_cluster

TARGETS = {"identical": 1000.0, "distinct": 300.0}  # alerts per second (issue 17)
NAMES = ("InstanceDown", "HighErrorRatio", "HighLatency", "TargetDown")


def wire_alert(name: str, instance: str, started: datetime) -> dict[str, Any]:
    """One firing alert as Alertmanager sends it."""
    labels = {
        "alertname": name,
        "service": "bench",
        "instance": instance,
        "severity": "critical",
    }
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{name} on bench ({instance})"},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1/bench",
    }


def notification(alerts: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """An Alertmanager v4 webhook carrying `alerts` of the group of alert `name`."""
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}", service="bench"}}',
        "status": "firing",
        "receiver": "agent",
        "groupLabels": {"alertname": name, "service": "bench"},
        "commonLabels": {"service": "bench", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }


def storm(kind: str, alerts: int, per_post: int, started: datetime) -> list[dict[str, Any]]:
    """The posts of one storm: `alerts` alerts in posts of `per_post`."""
    posts = []
    for n in range(alerts // per_post):
        if kind == "identical":
            group = [wire_alert(NAMES[0], f"pod-{i}", started) for i in range(per_post)]
            posts.append(notification(group, NAMES[0]))
        else:
            name = NAMES[n % len(NAMES)]
            first = n * per_post
            group = [wire_alert(name, f"pod-{first + i}", started) for i in range(per_post)]
            posts.append(notification(group, name))
    return posts


def encode(port: int, token: str, body: dict[str, Any]) -> bytes:
    """The whole HTTP/1.1 request for one post, keep-alive."""
    payload = json.dumps(body).encode()
    head = (
        f"POST /webhook/alertmanager HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


@dataclass
class ClientResult:
    """What one client process saw: status codes, latencies (ms), duplicates, CPU seconds."""

    codes: list[int]
    latencies_ms: list[float]
    duplicates: int
    cpu_s: float


async def _connection(
    port: int, requests: list[bytes], codes: list[int], latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    duplicates = 0
    try:
        for request in requests:
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            )
            body = await reader.readexactly(length)
            latencies.append((time.perf_counter() - sent) * 1000)
            code = int(lines[0].split()[1])
            codes.append(code)
            if 200 <= code < 300:
                duplicates += int(json.loads(body).get("duplicates", 0))
    finally:
        writer.close()
    return duplicates


def client_process(
    port: int, requests: list[bytes], connections: int, start_at: float, out: Any
) -> None:
    """One client process: `connections` keep-alive connections sharing `requests`."""

    async def run() -> int:
        codes: list[int] = []
        latencies: list[float] = []
        while time.time() < start_at:
            await asyncio.sleep(0.005)
        counts = await asyncio.gather(
            *(
                _connection(port, requests[i::connections], codes, latencies)
                for i in range(connections)
            )
        )
        out.put(ClientResult(codes, latencies, sum(counts), time.process_time()))
        return 0

    asyncio.run(run())


@dataclass
class Row:
    """One storm's figures."""

    kind: str
    per_post: int
    posts: int
    alerts: int
    seconds: float
    latencies_ms: list[float]
    non_2xx: int
    duplicates: int
    recorded: int
    received: int
    incidents: int
    server_cpu_s: float
    client_cpu_s: float

    @property
    def alerts_per_s(self) -> float:
        return self.alerts / self.seconds

    @property
    def nothing_lost(self) -> bool:
        return (
            self.non_2xx == 0
            and self.recorded + self.duplicates == self.alerts
            and self.received == self.alerts
        )


def run_storm(
    running: RunningCluster, kind: str, alerts: int, per_post: int, processes: int, connections: int
) -> Row:
    """One storm on a fresh database: post everything, stop the agent, read the store back."""
    started = datetime.now(UTC) - timedelta(seconds=5)
    posts = storm(kind, alerts, per_post, started)
    name = f"bench_intake_{kind}_{per_post}_{secrets.token_hex(2)}"
    pipeline = CountingPipeline()
    url = fresh_ops_db(running, name)
    with serving_agent(url, pipeline) as (base, token):
        port = int(base.rsplit(":", 1)[1])
        requests = [encode(port, token, body) for body in posts]
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        start_at = time.time() + 1.0
        children = [
            context.Process(
                target=client_process,
                args=(port, requests[i::processes], connections, start_at, out),
            )
            for i in range(processes)
        ]
        cpu_before = psutil.Process().cpu_times()
        for child in children:
            child.start()
        results: list[ClientResult] = [out.get(timeout=600) for _ in children]
        seconds = time.time() - start_at
        cpu_after = psutil.Process().cpu_times()
        for child in children:
            child.join(timeout=30)
    rows, received, incidents = stored_alerts(url)
    return Row(
        kind=kind,
        per_post=per_post,
        posts=len(posts),
        alerts=len(posts) * per_post,
        seconds=seconds,
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
        non_2xx=sum(1 for r in results for c in r.codes if not 200 <= c < 300),
        duplicates=sum(r.duplicates for r in results),
        recorded=rows,
        received=received,
        incidents=incidents,
        server_cpu_s=(cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        client_cpu_s=sum(r.cpu_s for r in results),
    )


def report(row: Row) -> None:
    """One line of the table."""
    lat = sorted(row.latencies_ms)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    target = TARGETS[row.kind]
    met = "yes" if row.alerts_per_s >= target and row.nothing_lost and row.incidents == 1 else "NO"
    print(
        f"{row.kind:<10}{row.per_post:>6}{row.posts:>7}{row.alerts:>7}"
        f"{row.posts / row.seconds:>8.0f}{row.alerts_per_s:>9.0f}"
        f"{statistics.median(lat):>8.1f}{p99:>8.1f}{row.non_2xx:>8}"
        f"{row.recorded:>7}{row.duplicates:>7}{row.received:>8}"
        f"  {'ok' if row.nothing_lost else 'LOST':<5}{row.incidents:>4}"
        f"{row.server_cpu_s:>7.1f}{row.client_cpu_s:>7.1f}  {met} (>= {target:.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identical", type=int, default=10_000, help="alerts per identical storm")
    parser.add_argument("--distinct", type=int, default=3_000, help="alerts per distinct storm")
    parser.add_argument("--per-post", default="1,5", help="alerts per post, comma-separated")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per process")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the agent's own start-up warnings are noise here
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()} "
        f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()};"
        f" load average before: {_load()} (the machine may be shared: figures drop with it)"
    )
    print(
        f"alert intake: {args.processes} client processes x {args.connections} keep-alive "
        f"connections = {args.processes * args.connections} concurrent clients, on the same "
        "machine as the agent and its Postgres; Alertmanager v4 posts of `batch` alerts each"
    )
    print(
        "check: alert rows recorded + duplicates answered == alerts posted, and the rows'"
        " received counts sum to it (ok), one incident per storm; cpu: seconds of the agent's"
        " process (server) and of all clients"
    )
    print(
        f"{'alerts':<10}{'batch':>6}{'posts':>7}{'alerts':>7}{'posts/s':>8}{'alerts/s':>9}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'rows':>7}{'dups':>7}{'counted':>8}"
        f"  {'check':<5}{'inc':>4}{'srv s':>7}{'cli s':>7}  target"
    )
    state = make_state_dir("breakfix-bench-intake-")
    try:
        with running_cluster(state, "ops-db") as running:
            for kind, alerts in (("identical", args.identical), ("distinct", args.distinct)):
                for per_post in (int(p) for p in args.per_post.split(",")):
                    report(
                        run_storm(running, kind, alerts, per_post, args.processes, args.connections)
                    )
    finally:
        remove_state_dir(state)
    print(f"load average after: {_load()}")


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in psutil.getloadavg())


if __name__ == "__main__":
    main()
