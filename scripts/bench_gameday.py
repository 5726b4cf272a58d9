"""Benchmark (not a test): a full game day on a fresh lab, figures per arm.

Runs `breakfix gameday --fresh --scenario gameday/plans/bench.yaml` (every catalogue fault
and every fault made by hand; arms agent and none, restart-only on a subset; high-risk
fixes auto-approved after a 5 s think time, that wait reported apart) and prints, per arm:
pass rate, median and p95 user outage, median time to detect and to diagnose; the ratios of
user outage agent/none and agent/restart-only; and the agent's figures on the low- and
medium-risk faults alone (the targets: median <= 8 s, p95 <= 20 s). The report (JSON,
Markdown, charts, HTML) stays in --out. Bounded: every case has a window; it stops by itself.
"""

import argparse
import platform
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from agent.model import HIGH_RISK_ACTIONS
from gameday.report.schema import CaseResult, RunReport
from gameday.stages import STAGES
from gameday.summary import nearest_rank, summarize_arm, user_outage_s

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "gameday" / "plans"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def low_risk(case: CaseResult) -> bool:
    """A case whose expected fix is low or medium risk (no approval asked)."""
    return case.expected.action not in HIGH_RISK_ACTIONS and case.kind != "control"


def print_stages(cases: list[CaseResult]) -> None:
    """Per case title: the median seconds of each recovery stage of its first incident, and
    the user outage p50/p95 over its repeats."""
    by_title: dict[str, list[CaseResult]] = {}
    for case in cases:
        by_title.setdefault(case.case, []).append(case)
    print("\nwhere the time went (agent; median s per stage of the first incident):")
    print(f"  {'case':<36}" + "".join(f"{s:>9}" for s in STAGES) + f"{'outage p50':>12}{'p95':>7}")
    for title, runs in by_title.items():
        cells = []
        for stage in STAGES:
            values = [
                c.incidents[0].stages[stage]
                for c in runs
                if c.incidents and stage in c.incidents[0].stages
            ]
            cells.append(_secs(statistics.median(values) if values else None))
        outages = [user_outage_s(case=c) for c in runs if c.outage.start_s is not None]
        p50 = statistics.median(outages) if outages else None
        p95 = nearest_rank(values=outages, pct=95) if outages else None
        print(
            f"  {title[:35]:<36}"
            + "".join(f"{c:>9}" for c in cells)
            + f"{_secs(p50):>12}{_secs(p95):>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, default=PLANS / "bench.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / ".breakfix-bench" / "gameday")
    parser.add_argument("--report", type=Path, help="Only print the figures of this gameday.json")
    args = parser.parse_args()
    if args.report is None:
        command = [
            str(Path(sys.executable).with_name("breakfix")),
            "gameday",
            "--fresh",
            "--lab-env",
            str(PLANS / "bench.env"),
            "--scenario",
            str(args.plan),
            "--out",
            str(args.out),
        ]
        print("running:", " ".join(command), flush=True)
        subprocess.run(command, check=False)
        args.report = args.out / "gameday.json"
    report = RunReport.model_validate_json(args.report.read_text())
    when = datetime.fromtimestamp(report.started_at).strftime("%Y-%m-%d")
    print(f"\ngame day {report.run_id} ({when}, {platform.node()}, {report.machine.cpus} CPUs)")
    print(f"{'arm':<14}{'pass':>10}{'outage p50':>12}{'p95':>8}{'detect p50':>12}{'diag p50':>10}")
    for arm in report.arms:
        rate = f"{arm.passed}/{arm.cases - arm.not_run}"
        print(
            f"{arm.arm:<14}{rate:>10}{_secs(arm.outage_median_s):>12}{_secs(arm.outage_p95_s):>8}"
            f"{_secs(arm.detect_median_s):>12}{_secs(arm.diagnose_median_s):>10}"
        )
    for name, ratio in report.outage_ratios.items():
        figure = "-" if ratio is None else f"{ratio:.3f}"
        print(f"user outage {name}: {figure} (a censored outage counts its lower bound)")
    agent = [c for c in report.cases if c.arm == "agent" and c.status != "not_run"]
    low = [c for c in agent if low_risk(c)]
    if low:
        outages = [user_outage_s(case=c) for c in low]
        summary = summarize_arm(arm="agent", cases=low)
        print(
            f"agent, low/medium-risk faults ({len(low)}): {summary.passed} passed, user outage "
            f"p50 {_secs(summary.outage_median_s)} s, p95 "
            f"{_secs(nearest_rank(values=outages, pct=95))} s (targets 8 s and 20 s)"
        )
    waits = [c.approval_wait_s for c in agent if c.approvals]
    if waits:
        print(f"approval waits (in the outage above): {', '.join(f'{w:.1f}s' for w in waits)}")
    print_stages(agent)
    print("\nper case (agent):")
    for case in agent:
        reasons = "; ".join(case.reasons)[:140]
        outage = "-" if case.outage.start_s is None else f"{user_outage_s(case=case):.1f}s"
        print(f"  {case.id:<42}{case.status:<8}{outage:>8}  {reasons}")


if __name__ == "__main__":
    main()
