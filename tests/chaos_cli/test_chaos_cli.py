"""`breakfix chaos run | list | export` against a running lab, and the real Chaos Toolkit.

The Chaos Toolkit test runs the PyPI `chaos` CLI on an experiment `breakfix chaos export`
wrote: its probes, method and rollbacks hit the lab's real chaos server and target.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from breakfix.background import BackgroundLab
from lab.paths import SHIPPED_SCENARIOS, StatePaths
from lab.secrets import read_secret
from tests.support.background_lab import lab_fixture

pytestmark = pytest.mark.slow
CHAOS = str(Path(sys.executable).with_name("chaos"))


lab = lab_fixture("breakfix-chaoscli-")


def _faults(lab: BackgroundLab, correlation: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(lab.cli("faults").stdout)
    return [row for row in rows if row["correlation_id"] == correlation]


def _ready(lab: BackgroundLab) -> int:
    url = f"http://127.0.0.1:{lab.port('TARGET')}/ready"
    return httpx.get(url, timeout=10).status_code


def test_chaos_list_shows_the_shipped_scenarios(lab: BackgroundLab, tmp_path: Path) -> None:
    listed = lab.cli("chaos", "list").stdout
    assert "api-hang" in listed and "cron 0 3 * * mon-fri" in listed
    (tmp_path / "bad.yaml").write_text("name: bad\nsteps: [{explode: 1}]\n")
    refused = lab.cli("chaos", "list", "--dir", str(tmp_path), check=False)
    assert refused.returncode == 1 and "bad.yaml" in refused.stderr


def test_chaos_run_executes_a_scenario_and_exits_by_its_verdict(
    lab: BackgroundLab, tmp_path: Path
) -> None:
    passed = lab.cli("chaos", "run", str(SHIPPED_SCENARIOS / "api-hang.yaml"), "--json")
    result = json.loads(passed.stdout)
    assert result["status"] == "passed"
    (fault,) = _faults(lab, result["correlation_id"])
    assert fault["fault_id"] == "api-hang" and fault["state"] == "reverted"

    failing = tmp_path / "failing.yaml"
    failing.write_text(
        "name: failing\nsteps:\n"
        "  - inject: {fault: api-hang, target: target, ttl_s: 120}\n"
        "  - check: {path: /ready, timeout_s: 1}\n"
    )
    failed = lab.cli("chaos", "run", str(failing), check=False)
    assert failed.returncode == 1 and "failed" in failed.stdout
    assert _ready(lab) == 200  # rolled back before the command exited

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("name: invalid\nsteps: [{revert: nothing}]\n")
    refused = lab.cli("chaos", "run", str(invalid), check=False)
    assert refused.returncode == 2 and "names no earlier inject" in refused.stderr


def _chaostoolkit(lab: BackgroundLab, experiment: Path) -> dict[str, Any]:
    key = read_secret(StatePaths.at(lab.state_dir).secret("chaos.key"))
    journal = experiment.with_suffix(".journal.json")
    env = {**os.environ, "BREAKFIX_CHAOS_KEY": key}
    subprocess.run(
        [
            CHAOS,
            "--no-version-check",
            "--no-log-file",
            "run",
            "--rollback-strategy",
            "always",
            "--journal-path",
            str(journal),
            str(experiment),
        ],
        env=env,
        cwd=experiment.parent,
        capture_output=True,
        text=True,
        timeout=240,
    )
    body: dict[str, Any] = json.loads(journal.read_text())
    return body


def test_chaos_toolkit_runs_an_exported_experiment_against_the_lab(
    lab: BackgroundLab, tmp_path: Path
) -> None:
    # A fault that outlives the pause: the hypothesis after the method deviates, the
    # rollback reverts the fault through the chaos server.
    hang = tmp_path / "hang.json"
    lab.cli(
        "chaos", "export", str(hang), "--format", "chaostoolkit",
        "--fault", "api-hang", "--ttl", "120", "--pause", "1",
    )  # fmt: skip
    document = json.loads(hang.read_text())
    assert "chaos_key" in document["configuration"]
    assert read_secret(StatePaths.at(lab.state_dir).secret("chaos.key")) not in hang.read_text()
    journal = _chaostoolkit(lab, hang)
    assert journal["status"] == "failed" and journal["deviated"] is True
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is False
    (rollback,) = journal["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"]["status"] == 200
    correlation = document["configuration"]["correlation_id"]
    (fault,) = _faults(lab, correlation)
    assert fault["state"] == "reverted" and fault["revert_reason"] == "requested"
    assert _ready(lab) == 200

    # A fault the lab absorbs within the pause: the experiment completes.
    quick = tmp_path / "quick.yaml"
    lab.cli(
        "chaos", "export", str(quick), "--fault", "api-hang", "--ttl", "2", "--pause", "6",
    )  # fmt: skip
    journal = _chaostoolkit(lab, quick)
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["run"][0]["output"]["status"] == 201
