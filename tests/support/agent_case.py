"""One game-day case, backend-agnostic: inject a fault, let the lab's own agent fix it, and
measure the user outage with the game day's probe and arithmetic (gameday.outage)."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from action_server.client import ActionClient
from gameday.outage import measure
from gameday.probe import JourneyProbe
from gameday.report.schema import Outage

# The Compose game day's five cases (issue 18): fault -> the action the agent should take.
CASES = {
    "api-crash": "restart-api",
    "api-hang": "restart-api",
    "db-down": "restart-db",
    "db-lock": "terminate-db-blockers",
    "upstream-outage": "switch-to-fallback",
}
CASE_S = 240.0  # a case ends when users are served again, or after this long
CLEAN_WINDOW_S = 5.0  # the game day's default clean window


@dataclass
class CaseResult:
    """The outage users saw and the responder's actions (action, outcome), in order."""

    outage: Outage
    actions: list[tuple[str, str]]

    def line(self, backend: str, fault: str) -> str:
        """One printed line of figures."""
        o = self.outage
        return (
            f"game day [{backend}] {fault}: user outage {o.outage_s} s "
            f"(failed journeys {o.failed_journeys}/{o.journeys}, recovered {o.recovered}); "
            f"responder's actions {self.actions}"
        )


def wait_settled(observability: str, timeout: float = 180.0) -> bool:
    """Wait until observability has no firing alert (the last case's have resolved, so the
    agent's incidents for it are closed and cannot take the next case's alerts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            alerts = httpx.get(f"{observability}/alerts", timeout=5, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            alerts = [{"status": "firing"}]
        if not [a for a in alerts if a.get("status") == "firing"]:
            time.sleep(5)  # the agent's verification hold
            return True
        time.sleep(2)
    return False


def run_case(
    *, target: str, chaos: httpx.Client, actions: ActionClient, own_key_id: str, fault: str
) -> CaseResult:
    """Inject `fault` (reverted afterwards), probe until users are served again."""
    probe = JourneyProbe(target).start()
    since = datetime.now(UTC)
    time.sleep(2)  # a few good journeys first
    injected_at = time.time()
    injected = chaos.post(f"/break/{fault}", json={"ttl_s": 600})
    assert injected.status_code == 201, injected.text
    deadline = time.monotonic() + CASE_S
    try:
        while True:
            time.sleep(2)
            outage = measure(
                probe.journeys(),
                since=injected_at,
                until=time.time(),
                clean_window_s=CLEAN_WINDOW_S,
            )
            recovered = outage.recovered and outage.end_s is not None
            if (outage.failed_journeys and recovered) or time.monotonic() > deadline:
                break
    finally:
        probe.stop()
        chaos.delete(f"/faults/{injected.json()['id']}")
    rows = actions.audit(since=since, limit=50)
    done = [(r.action, r.outcome) for r in reversed(rows) if r.key_id != own_key_id and r.action]
    return CaseResult(outage=outage, actions=done)
