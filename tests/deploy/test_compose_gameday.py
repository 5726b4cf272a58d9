"""A game day on the Compose stack: the agent, inside its container, fixes five faults.

The stack runs as `make compose-up` makes it (on free ports, a project of its own), with the
evaluations' agent policy (tests.support.eval_lab.EVAL_ENV: no approvals, no loop budget
across cases) given the way an operator gives it, a `.env` read by `init`. For each of
api-crash, api-hang, db-down, db-lock and upstream-outage: the game day's user-journey probe
runs from this process, the chaos server injects the fault, and the case passes when the
agent's own action (its key, in the action server's audit) ended the outage; the outage is
measured with the game day's arithmetic (gameday.outage) and printed, for the README.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from action_server.client import ActionClient
from action_server.keys import key_id_of
from gameday.outage import measure
from gameday.probe import JourneyProbe
from tests.support.compose_stack import (
    ComposeStack,
    journey_ok,
    running_stack,
    skip_without_engine,
    wait_until,
)
from tests.support.eval_lab import EVAL_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

skip_without_engine()

CASES = {  # fault -> the action the agent should take
    "api-crash": "restart-api",
    "api-hang": "restart-api",
    "db-down": "restart-db",
    "db-lock": "terminate-db-blockers",
    "upstream-outage": "switch-to-fallback",
}
CASE_S = 240.0  # a case ends when users are served again, or after this long
CLEAN_WINDOW_S = 5.0  # gameday's default clean window


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    """The lab on Compose with the evaluations' agent policy."""
    with running_stack("bfxgd", operator_env=EVAL_ENV) as running:
        yield running


@pytest.fixture(scope="module")
def admin(stack: ComposeStack) -> Iterator[tuple[ActionClient, str]]:
    """The game day's own admin key (audit reads, routes put back) and its id."""
    key = stack.action_key()
    client = ActionClient(stack.url("ACTION"), key, timeout=240.0)
    yield client, key_id_of(key) or ""
    client.close()


def _agent_runs(admin: ActionClient, since: datetime, own: str) -> list[tuple[str, str]]:
    """(action, outcome) of every run since `since` by a key other than the game day's."""
    rows = admin.audit(since=since, limit=50)
    return [(r.action, r.outcome) for r in rows if r.key_id != own and r.action]


@pytest.mark.parametrize("fault", list(CASES))
def test_the_agent_fixes_it_inside_containers(
    stack: ComposeStack, admin: tuple[ActionClient, str], fault: str
) -> None:
    actions, own = admin
    target = stack.url("TARGET")
    assert wait_until(lambda: journey_ok(target), 120), "the lab was not healthy before the case"
    time.sleep(10)  # the last case's alerts resolve
    probe = JourneyProbe(target).start()
    since_dt = datetime.now(UTC)
    with stack.chaos() as chaos:
        time.sleep(2)  # a few good journeys first
        injected_at = time.time()
        injected = chaos.post(f"/break/{fault}", json={"ttl_s": 600})
        assert injected.status_code == 201, injected.text
        ref = injected.json()["id"]
        try:
            deadline = time.monotonic() + CASE_S
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
            chaos.delete(f"/faults/{ref}")
    runs = _agent_runs(actions, since_dt, own)
    print(  # noqa: T201 - the figures the README quotes
        f"\ncompose game day {fault}: user outage {outage.outage_s} s "
        f"(failed journeys {outage.failed_journeys}/{outage.journeys}, "
        f"recovered {outage.recovered}); agent's actions {runs}"
    )
    if CASES[fault] == "switch-to-fallback":
        actions.act("switch-to-fallback", {"dependency": "pricing", "route": "primary"}, wait=True)
    assert outage.failed_journeys > 0, "the fault never reached users"
    assert outage.recovered, f"{fault}: users not served again within {CASE_S:.0f}s"
    assert (CASES[fault], "succeeded") in runs, runs
    with httpx.Client(trust_env=False) as client:
        assert client.get(f"{target}/ready").status_code == 200
