"""A short game day on a live lab, end to end through the CLI: live progress, the report
(JSON, Markdown, PNGs, HTML), the run in ops-db; and Ctrl-C mid-case leaves nothing broken.

One lab for the module (observability and the agent; the evaluations' policy: approvals
off, no cooldown). The game day runs as a user runs it: `breakfix gameday` in the lab's
environment, from outside the lab's processes.
"""

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from breakfix.background import BREAKFIX
from gameday.polling import until
from gameday.report.schema import RunReport
from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.gameday_cli import run_gameday_cli

pytestmark = pytest.mark.slow

PLAN = """
name: live test
cases:
  - fault: api-crash
    window_s: 120
  - fault: noop
    window_s: 20
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-gameday-live-") as running:
        yield running


@pytest.mark.timeout(600)
def test_a_short_game_day_scores_reports_and_stores(lab: EvalLab, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "report"
    done = run_gameday_cli(lab.lab, "--scenario", str(plan), "--out", str(out), "--min-pass", "1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    # live progress: a line per phase of each case, then the scorecard
    for line in (
        "api-crash#1/agent: injected api-crash",
        "api-crash#1/agent: passed",
        "noop#1/agent: passed",
        "scorecard: agent 2/2 passed",
    ):
        assert line in done.stdout, done.stdout
    report = RunReport.model_validate_json((out / "gameday.json").read_text())
    assert not report.interrupted and report.pass_rate == 1.0
    crash, noop = report.cases
    assert crash.status == "passed", crash.reasons
    assert [(a.action, a.verdict) for a in crash.actions] == [("restart-api", "correct")]
    assert crash.recovered_by == "responder"
    assert crash.outage.start_s is not None and crash.outage.outage_s is not None
    assert crash.outage.outage_s > 0 and crash.outage.failed_journeys > 0
    assert crash.incidents[0].diagnosis == "api-crash" and crash.diagnosis_correct
    assert crash.faults[0].reverted_at is not None  # the TTL never ended it
    assert crash.faults[0].reverted_at > crash.started_at + crash.outage.end_s
    assert noop.kind == "control" and noop.status == "passed" and not noop.actions
    for name in ("gameday.md", "gameday.html", "outage.png"):
        assert (out / name).stat().st_size > 0, name
    assert len(list(out.glob("timeline-*.png"))) == 2
    listed = run_gameday_cli(lab.lab, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert report.run_id in [r["run_id"] for r in json.loads(listed.stdout)]
    shown = run_gameday_cli(lab.lab, "show", report.run_id[:15], "--json")
    assert RunReport.model_validate_json(shown.stdout).cases == report.cases


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.timeout(300)
def test_ctrl_c_mid_case_reverts_and_keeps_the_partial_report(lab: EvalLab, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.Popen(
        [BREAKFIX, "gameday", "--faults", "api-crash", "--arm", "none", "--out", str(out)],
        env=lab.lab.env,
        cwd=lab.lab.state_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # a suite started in the background by a shell without job control inherits SIGINT
        # ignored, and Python keeps an ignored SIGINT ignored: Ctrl-C must reach the CLI
        preexec_fn=_sigint_default,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # bounded: the case window is 120 s, the test's timeout 300
        seen.append(line)
        if "injected api-crash" in line:
            break
    time.sleep(3.0)  # users are hurt now, nobody responds
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert lab.chaos.get("/faults", params={"state": "active"}).json() == []
    assert lab.agent is not None
    assert lab.agent.get("/silences").json() == []  # the arm's silence ended
    assert until(lambda: lab.target.get("/ready").status_code == 200, 90.0, every_s=1.0)
    partial = RunReport.model_validate_json((out / "gameday.json").read_text())
    assert partial.interrupted and partial.finished_at is not None


def test_bad_input_is_refused_before_anything_runs(lab: EvalLab, tmp_path: Path) -> None:
    unknown = run_gameday_cli(lab.lab, "--faults", "api-crash,db-lok", "--out", str(tmp_path))
    assert unknown.returncode == 2 and "unknown fault 'db-lok'" in unknown.stderr
    assert not (tmp_path / "gameday.json").exists()
    missing = run_gameday_cli(lab.lab, "show", "no-such-run")
    assert missing.returncode == 2 and "no game day run" in missing.stderr


@pytest.mark.timeout(300)
def test_a_refused_injection_fails_its_case_and_the_day_goes_on(
    lab: EvalLab, tmp_path: Path
) -> None:
    """The kill switch engaged: each case's injection is refused (409): each case is
    recorded not run with the chaos server's answer, the next one is still tried, the report
    is written; nothing is left in the lab."""
    lab.chaos.post("/kill", json={"reason": "refusal test"}).raise_for_status()
    try:
        out = tmp_path / "report"
        done = run_gameday_cli(lab.lab, "--faults", "api-crash,noop", "--out", str(out))
    finally:
        lab.chaos.post("/kill/release").raise_for_status()
    assert done.returncode == 0, done.stdout + done.stderr  # the day ran to its end
    report = RunReport.model_validate_json((out / "gameday.json").read_text())
    assert [c.case for c in report.cases] == ["api-crash", "noop"]
    for case in report.cases:
        assert case.status == "not_run", case
        assert "kill_switch_engaged" in " ".join(case.reasons), case.reasons
        assert case.faults == [] and case.actions == []
    assert lab.chaos.get("/faults", params={"state": "active"}).json() == []
