"""The game day's live progress: a line per phase when piped, a live table on a terminal."""

import io

from rich.console import Console

from breakfix.cli.gameday_progress import Progress
from gameday.report.schema import ArmSummary, Machine, RunReport


def _report() -> RunReport:
    arm = ArmSummary(
        arm="agent", cases=2, passed=1, not_run=0, pass_rate=0.5, outage_median_s=6.0,
        outage_p95_s=9.0, detect_median_s=2.0, diagnose_median_s=5.0,
    )  # fmt: skip
    return RunReport(
        run_id="r1", started_at=0.0, machine=Machine(host="h", cpus=2, python="3.11"), arms=[arm]
    )


def test_piped_progress_prints_each_change_once_and_the_scorecard() -> None:
    buffer = io.StringIO()
    with Progress(Console(file=buffer, width=200)) as progress:
        progress.phase("api-crash#1/agent", "injected api-crash")
        progress.phase("api-crash#1/agent", "injected api-crash")  # no change: no line
        progress.phase("api-crash#1/agent", "[bold]inc-0001 acting")  # markup is text here
        progress.scored(_report())
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "api-crash#1/agent: injected api-crash",
        "api-crash#1/agent: [bold]inc-0001 acting",
        "scorecard: agent 1/2 passed (50%), outage p50 6.0s",
    ]


def test_on_a_terminal_a_live_table_holds_every_case_and_the_score() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    with Progress(console) as progress:
        progress.phase("api-crash#1/agent", "passed")
        progress.phase("db-lock#1/agent", "inc-0002 verifying")
        progress.scored(_report())
    screen = buffer.getvalue()
    assert "api-crash#1/agent" in screen and "db-lock#1/agent" in screen
    assert "inc-0002 verifying" in screen
    assert "agent 1/2 passed (50%)" in screen
