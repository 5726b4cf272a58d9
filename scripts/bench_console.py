"""Benchmark (not a test): the web console's page render time with history in ops-db.

Starts its own lab (observability and the console on, the agent off so nothing acts on the
rows written here) on a fresh state dir and free ports, fills ops-db with 1,000 incidents
(8 timeline steps, an alert, an action and its run each) and 10,000 action-server audit
rows, logs in as the operator and times each page over HTTP, the way a browser loads it
(whole response read). Prints p50 and p95 per page; the target is p95 < 200 ms.
"""

import argparse
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.console: the rows

import httpx

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.envfile import read_env
from lab.secrets import read_secret
from lab.services import CONSOLE_OPERATOR_TOKEN
from tests.console.fill import fill_history

INCIDENTS, AUDIT_ROWS = 1_000, 10_000
TARGET_P95_MS = 200.0
PAGES = {
    "lab": "/lab",
    "lab (live part)": "/lab/live",
    "incidents": "/incidents",
    "incidents, page 20": "/incidents?page=20",
    "incidents, filtered": "/incidents?state=escalated&fault=api-crash",
    "incident": "/incidents/inc-00500",
    "chaos": "/chaos",
    "game days": "/gamedays",
    "audit": "/audit",
    "audit, page 200, refusals": "/audit?outcome=refused&page=200",
}


def _log_in(client: httpx.Client, token: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    answer = client.post("/login", data={"token": token, "csrf": csrf.group(1)})
    answer.raise_for_status()
    assert answer.url.path == "/lab", answer.url


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="loads of each page")
    args = parser.parse_args()
    state_dir = make_state_dir("breakfix-bench-console-")
    env = lab_environment(state_dir, observability=True, console=True)
    lab = BackgroundLab(state_dir, env)
    try:
        began = time.monotonic()
        lab.start(timeout=240)
        print(f"lab ready in {time.monotonic() - began:.1f} s")
        ops_url = read_env(state_dir / "env" / "console.env")["CONSOLE_OPS_DB_URL"]
        began = time.monotonic()
        fill_history(ops_url, incidents=INCIDENTS, audit_rows=AUDIT_ROWS)
        print(
            f"ops-db filled: {INCIDENTS:,} incidents ({INCIDENTS * 8:,} timeline steps),"
            f" {AUDIT_ROWS:,} audit rows in {time.monotonic() - began:.1f} s"
        )
        url = f"http://127.0.0.1:{lab.port('CONSOLE')}"
        token = read_secret(state_dir / "secrets" / CONSOLE_OPERATOR_TOKEN)
        with httpx.Client(base_url=url, trust_env=False, timeout=30, follow_redirects=True) as c:
            _log_in(c, token)
            for path in PAGES.values():  # warm: templates compiled, pools open
                c.get(path).raise_for_status()
            timings: dict[str, list[float]] = {name: [] for name in PAGES}
            for _ in range(args.rounds):
                for name, path in PAGES.items():
                    start = time.perf_counter()
                    answer = c.get(path)
                    elapsed = (time.perf_counter() - start) * 1000
                    answer.raise_for_status()
                    timings[name].append(elapsed)
        print(
            f"\nconsole page render, {args.rounds} loads each ({platform.machine()},"
            f" {os.cpu_count()} CPUs, Python {platform.python_version()}):"
        )
        print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8}")
        worst = 0.0
        for name, values in timings.items():
            p95 = _percentile(values, 0.95)
            worst = max(worst, p95)
            print(f"{name:<28} {statistics.median(values):>8.1f} {p95:>8.1f}")
        verdict = "within" if worst < TARGET_P95_MS else "OVER"
        print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_P95_MS:.0f} ms target")
    finally:
        if lab.proc is not None and lab.proc.poll() is None:
            lab.down()
        remove_state_dir(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
