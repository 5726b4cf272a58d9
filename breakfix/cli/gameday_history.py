"""`breakfix gameday list | show RUN | compare RUN_A RUN_B`: game day runs stored in ops-db.

ops-db is reached as `breakfix keys` reaches it: the URL the lab wrote into its state dir
(`<state_dir>/env/action.env`, ACTION_OPS_DB_URL), never printed.
"""

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from breakfix.cli.ops_session import ops_session
from gameday.report.schema import ArmSummary, CaseResult, RunReport
from gameday.store import (
    AmbiguousRunId,
    Comparison,
    GamedayStore,
    UnreadableRun,
    compare,
    get_run,
    list_runs,
)

# No emoji codes (a case named `db:lock` is not ":lock:"); wide lines when piped.
out = Console(emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
_REASON_CHARS = 120  # reasons carry upstream error text: bounded in a table cell
_STATUS_STYLE = {"passed": "green", "failed": "red", "not_run": "yellow"}


def _load(session: Session, run_id: str) -> RunReport:
    """The run, or exit 2 (unknown or ambiguous id) or 1 (unreadable)."""
    try:
        report = get_run(session=session, run_id=run_id)
    except AmbiguousRunId as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except UnreadableRun as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if report is None:
        err.print(f"[bold red]error:[/] no game day run {escape(run_id)}")
        raise typer.Exit(2)
    return report


def _when(value: datetime | float | None) -> str:
    if value is None:
        return "-"
    at = datetime.fromtimestamp(value) if isinstance(value, float) else value
    return f"{at.astimezone():%Y-%m-%d %H:%M:%S}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _status(value: str) -> Text:
    return Text(value, style=_STATUS_STYLE.get(value, ""))


def list_(
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Game day runs, newest first."""
    with ops_session(GamedayStore, tables="game day") as session:
        rows = list_runs(session=session, limit=limit)
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        out.print("no game day runs")
        return
    table = Table("run", "started", "finished", "cases", "passed", "pass rate", "arms")
    for row in rows:
        finished = _when(row.finished_at) if row.finished_at else "unfinished"
        table.add_row(
            Text(row.run_id),
            _when(row.started_at),
            Text("interrupted", style="yellow") if row.interrupted else finished,
            str(row.cases),
            str(row.passed),
            _rate(row.pass_rate),
            Text(", ".join(row.arms) or "-"),
        )
    out.print(table)


def _arm_summaries(report: RunReport) -> list[ArmSummary]:
    """The run's own summaries; counts alone for a run saved before it summarised."""
    if report.arms:
        return report.arms
    summaries = []
    for arm in dict.fromkeys(c.arm for c in report.cases):
        cases = [c for c in report.cases if c.arm == arm]
        passed = sum(c.status == "passed" for c in cases)
        not_run = sum(c.status == "not_run" for c in cases)
        ran = len(cases) - not_run
        summaries.append(
            ArmSummary(
                arm=arm,
                cases=len(cases),
                passed=passed,
                not_run=not_run,
                pass_rate=passed / ran if ran else None,
                outage_median_s=None,
                outage_p95_s=None,
                detect_median_s=None,
                diagnose_median_s=None,
            )
        )
    return summaries


def _outage_cell(case: CaseResult) -> str:
    outage = case.outage
    if outage.outage_s is None:
        return "-" if outage.recovered else "not recovered"
    return (">" if outage.censored else "") + _seconds(outage.outage_s)


def _case_row(case: CaseResult) -> list[Text | str]:
    diagnosis = {True: "right", False: "wrong", None: "-"}[case.diagnosis_correct]
    actions = ", ".join(a.action for a in case.actions) or "-"
    reasons = "; ".join(case.reasons)
    if len(reasons) > _REASON_CHARS:
        reasons = reasons[: _REASON_CHARS - 3] + "..."
    return [
        Text(case.id),
        Text(case.kind),
        _status(case.status),
        _outage_cell(case),
        Text(case.recovered_by),
        diagnosis,
        Text(actions),
        Text(reasons),
    ]


def _print_report(report: RunReport) -> None:
    if report.finished_at is None:
        ended = "interrupted" if report.interrupted else "unfinished"
    else:
        ended = ("interrupted " if report.interrupted else "finished ") + _when(report.finished_at)
    out.print(Text.assemble(("run ", "bold"), report.run_id, f"  ({report.schema_version})"))
    out.print(
        Text(
            f"started {_when(report.started_at)}, {ended},"
            f" {len(report.cases)} case(s) on {report.machine.host}"
        )
    )
    out.print(f"agent pass rate {_rate(report.pass_rate)}")
    arms = Table("arm", "cases", "passed", "not run", "pass rate", "outage p50", "outage p95")
    arms.add_column("detect p50")
    arms.add_column("diagnose p50")
    for s in _arm_summaries(report):
        arms.add_row(
            s.arm,
            str(s.cases),
            str(s.passed),
            str(s.not_run),
            _rate(s.pass_rate),
            _seconds(s.outage_median_s),
            _seconds(s.outage_p95_s),
            _seconds(s.detect_median_s),
            _seconds(s.diagnose_median_s),
        )
    out.print(arms)
    for pair, ratio in report.outage_ratios.items():  # "agent/none": the agent's over none's
        shown = "-" if ratio is None else f"{ratio:.2f}"
        out.print(Text(f"user outage ratio {pair}: {shown}"))
    cases = Table("case", "kind", "status", "outage", "recovered by", "diagnosis", "actions")
    cases.add_column("reasons", overflow="fold")
    for case in report.cases:
        cases.add_row(*_case_row(case))
    out.print(cases if report.cases else "no cases yet")


def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id or a unique prefix.")],
    as_json: Annotated[bool, typer.Option("--json", help="The stored gameday.json.")] = False,
) -> None:
    """One run: its summary per arm and every case."""
    with ops_session(GamedayStore, tables="game day") as session:
        report = _load(session, run_id)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    _print_report(report)


def _print_comparison(result: Comparison) -> None:
    out.print(Text(f"{result.before_run_id} -> {result.after_run_id}", style="bold"))
    table = Table("case", "repeat", "arm", "before", "after", "outage before", "outage after")
    table.add_column("delta")
    table.add_column("regression")
    for c in result.cases:
        delta = "-" if c.outage_delta_s is None else f"{c.outage_delta_s:+.1f}s"
        table.add_row(
            Text(c.case),
            str(c.repeat),
            c.arm,
            _status(c.status_before),
            _status(c.status_after),
            _seconds(c.outage_before_s),
            _seconds(c.outage_after_s),
            delta,
            Text(c.why or "", style="bold red"),
            style="red" if c.regression else None,
        )
    out.print(table if result.cases else "no case in common")
    for run, keys in (
        (result.before_run_id, result.only_before),
        (result.after_run_id, result.only_after),
    ):
        for key in keys:
            out.print(Text(f"only in {run}: {key.case}#{key.repeat}/{key.arm}"))
    arms = Table("arm", "pass rate before", "pass rate after", "delta")
    for a in result.arms:
        delta = "-" if a.delta is None else f"{a.delta * 100:+.0f} pts"
        style = "red" if a.delta is not None and a.delta < 0 else None
        arms.add_row(a.arm, _rate(a.pass_rate_before), _rate(a.pass_rate_after), delta, style=style)
    out.print(arms)
    count = len(result.regressions)
    out.print(f"[bold red]{count} regression(s)[/]" if count else "no regressions")


def compare_(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The earlier run (id or prefix).")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The later run (id or prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
) -> None:
    """What changed from RUN_A to RUN_B; exit 1 when any case regressed."""
    with ops_session(GamedayStore, tables="game day") as session:
        before, after = _load(session, run_a), _load(session, run_b)
    result = compare(before=before, after=after)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print_comparison(result)
    if result.regressions:
        raise typer.Exit(1)


def register_history(app: typer.Typer) -> None:
    """Add `list`, `show` and `compare` to a `gameday` command group."""
    app.command("list")(list_)
    app.command("show")(show)
    app.command("compare")(compare_)
