"""Any agent can be scored: with the lab's agent off, an external responder acting through
the action server with a key of its own is scored like the lab's agent.

The external responder here is a small loop in the test (a stand-in for someone's own
agent): it reads observability's firing alerts and restarts the API through the action
server with an `act` key it created. The game day knows nothing of it.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from action_server.client import ActionClient, ActionClientError
from gameday.report.schema import RunReport
from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.gameday_cli import run_gameday_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-gameday-external-", agent=False) as running:
        yield running


class ExternalResponder:
    """Restarts the API when observability says the target is down."""

    def __init__(self, lab: EvalLab) -> None:
        out = lab.lab.cli("keys", "create", "--scope", "act", "--name", "external").stdout
        self.actions = ActionClient(lab.action_url, out.strip().splitlines()[-1])
        self.observability = lab.observability
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(1.0):
            try:
                alerts = self.observability.get("/alerts").json()
            except httpx.HTTPError:
                continue
            down = [a for a in alerts if a["status"] == "firing" and a.get("service") == "target"]
            if down:
                try:
                    self.actions.act("restart-api", {}, wait=True)
                except ActionClientError:
                    pass
                self.stop.wait(20.0)


@pytest.mark.timeout(420)
def test_an_external_agent_is_scored_by_what_it_did(lab: EvalLab, tmp_path: Path) -> None:
    assert lab.agent is None
    responder = ExternalResponder(lab)
    responder.thread.start()
    try:
        done = run_gameday_cli(lab.lab, "--faults", "api-crash", "--out", str(tmp_path))
    finally:
        responder.stop.set()
        responder.thread.join(timeout=150)
        responder.actions.close()
    assert done.returncode == 0, done.stdout + done.stderr
    report = RunReport.model_validate_json((tmp_path / "gameday.json").read_text())
    (case,) = report.cases
    assert case.status == "passed", case.reasons
    assert case.incidents == [] and case.diagnosis_correct is None  # no incident API to read
    assert [(a.action, a.verdict) for a in case.actions] == [("restart-api", "correct")]
    assert case.recovered_by == "responder"
    assert case.outage.recovered and case.outage.outage_s is not None
