"""`breakfix validate`: the checklist and its exit codes, fast without a lab; then the whole
walk on a live lab with the agent (every step passes) and on one without it (step 5 fails,
saying why, after steps 1-4 passed)."""

import io
import os
import re
import subprocess
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console

from breakfix.background import BREAKFIX
from breakfix.cli.validate_command import failure_line, step_lines
from gameday.checklist import Checklist, Step, StepResult, first_failure
from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.validate import example_params, run_validation
from tests.support.eval_lab import EvalLab, running_eval_lab

NO_LAB = cast(GamedayLab, None)  # steps of these tests never touch a lab
VALIDATE_TIMEOUT_S = 600.0  # five steps on a loaded two-core machine, steady waits included


def _text(result: StepResult) -> str:
    console = Console(record=True, width=200, color_system=None, file=io.StringIO())
    for line in step_lines(result):
        console.print(line)
    return console.export_text()


def test_a_passed_step_shows_its_mark_time_and_what_it_checked() -> None:
    result = StepResult(2, "every action answers", True, ["GET /actions: 12", "[x] ok"], 3.25)
    text = _text(result)
    assert "✓ 2. every action answers: passed (3.2s)" in text
    assert "    GET /actions: 12\n" in text
    assert "    [x] ok\n" in text  # checked lines are shown as they are, never as markup


def test_a_failed_step_shows_its_error_and_the_line_naming_it() -> None:
    result = StepResult(3, "detection", False, ["injected"], 61.0, error="no alert fired")
    text = _text(result)
    assert "✗ 3. detection: failed (61.0s)" in text
    assert "    error: no alert fired" in text
    assert failure_line(result) == "validate: step 3 (detection) failed: no alert fired"


def test_a_step_not_run_says_so() -> None:
    assert "- 4. scenario: not run" in _text(StepResult(4, "scenario", False, ran=False))


def _step(number: int, outcome: str, log: list[str]) -> Step:
    def body(lab: GamedayLab, checklist: Checklist) -> None:
        checklist.check(f"step {number} checked")
        checklist.defer(f"undo {number}", lambda: log.append(f"undo {number}"))
        log.append(f"ran {number}")
        if outcome == "fail":
            raise GamedayError(f"step {number} saw the wrong thing")
        if outcome == "crash":
            raise KeyError("boom")

    return Step(number, f"step {number}", body)


def test_the_run_stops_at_the_first_failing_step_and_undoes_it() -> None:
    log: list[str] = []
    steps = [_step(1, "pass", log), _step(2, "fail", log), _step(3, "pass", log)]
    seen: list[StepResult] = []
    results = run_validation(lab=NO_LAB, on_step=seen.append, steps=steps)
    assert seen == results
    assert [(r.number, r.passed, r.ran) for r in results] == [
        (1, True, True),
        (2, False, True),
        (3, False, False),
    ]
    assert log == ["ran 1", "undo 1", "ran 2", "undo 2"]
    failed = first_failure(results)
    assert failed is not None and failed.number == 2
    assert failed.error == "step 2 saw the wrong thing"
    assert failed.checked == ["step 2 checked"]


def test_an_unexpected_error_fails_the_step_naming_its_type() -> None:
    results = run_validation(lab=NO_LAB, on_step=lambda _: None, steps=[_step(1, "crash", [])])
    assert results[0].error == "KeyError: 'boom'"


def test_a_failed_clean_up_fails_a_step_that_passed() -> None:
    def body(lab: GamedayLab, checklist: Checklist) -> None:
        checklist.defer("release the kill switch", lambda: 1 / 0)

    results = run_validation(lab=NO_LAB, on_step=lambda _: None, steps=[Step(1, "s", body)])
    assert not results[0].passed
    assert (
        results[0].error
        == "clean-up failed: release the kill switch: ZeroDivisionError: division by zero"
    )


def test_dry_run_params_fill_only_required_fields() -> None:
    schema = {
        "properties": {
            "summary": {"type": "string"},
            "severity": {"enum": ["info", "critical"]},
            "replicas": {"type": "integer", "minimum": 2},
            "label": {"type": "string"},
        },
        "required": ["summary", "severity", "replicas"],
    }
    assert example_params(schema) == {
        "summary": "breakfix validate: a dry run",
        "severity": "info",
        "replicas": 2,
    }
    assert example_params({"properties": {}}) == {}


def test_no_lab_here_exits_2_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREAKFIX_")}
    env["BREAKFIX_STATE_DIR"] = str(tmp_path / "nothing")
    result = subprocess.run(
        [BREAKFIX, "validate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "validate: no lab state in" in result.stderr


# -- on live labs -------------------------------------------------------------------------


def _validate(lab: EvalLab) -> subprocess.CompletedProcess[str]:
    """`breakfix validate` with the lab's environment (BackgroundLab.cli stops at 180 s)."""
    return subprocess.run(
        [BREAKFIX, "validate"],
        env=lab.lab.env,
        cwd=lab.lab.state_dir,
        capture_output=True,
        text=True,
        timeout=VALIDATE_TIMEOUT_S,
    )


def _marks(stdout: str) -> list[tuple[str, str]]:
    """(step number, state) of each checklist line."""
    return re.findall(r"^[✓✗-] (\d)\. .*?: (passed|failed|not run)", stdout, re.M)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_validate_passes_every_step_on_a_lab_with_the_agent() -> None:
    with running_eval_lab("breakfix-validate-") as lab:
        result = _validate(lab)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _marks(result.stdout) == [(str(n), "passed") for n in range(1, 6)], result.stdout
    assert "validate: all 5 steps passed" in result.stdout
    assert "restart-api through the action server: succeeded" in result.stdout
    assert "POST /break/noop refused: 409 kill_switch_engaged" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_validate_fails_at_step_5_when_the_lab_runs_no_agent() -> None:
    with running_eval_lab("breakfix-validate-noagent-", agent=False) as lab:
        result = _validate(lab)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _marks(result.stdout) == [(str(n), "passed") for n in range(1, 5)] + [("5", "failed")], (
        result.stdout
    )
    assert (
        "validate: step 5 (the agent fixes a fault on its own) failed: the lab runs no agent "
        "(BREAKFIX_AGENT_ENABLED=false): nothing fixes faults on its own"
    ) in result.stderr
