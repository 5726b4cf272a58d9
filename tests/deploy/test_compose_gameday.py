"""A game day on the Compose stack: the agent, inside its container, fixes five faults.

The stack runs as `make compose-up` makes it (on free ports, a project of its own), with the
evaluations' agent policy (tests.support.eval_lab.EVAL_ENV: no approvals, no loop budget
across cases) given the way an operator gives it, a `.env` read by `init`. For each of
api-crash, api-hang, db-down, db-lock and upstream-outage: the game day's user-journey probe
runs from this process, the chaos server injects the fault, and the case passes when the
agent's own action (its key, in the action server's audit) ended the outage; the outage is
measured with the game day's arithmetic (gameday.outage) and printed, for the README.
"""

from collections.abc import Iterator

import pytest

from action_server.client import ActionClient
from action_server.keys import key_id_of
from tests.support.agent_case import CASES, run_case, wait_settled
from tests.support.compose_stack import (
    ComposeStack,
    journey_ok,
    running_stack,
    skip_without_engine,
    wait_until,
)
from tests.support.eval_lab import EVAL_ENV

# deep (`make test-deep`) until api-hang passes on Compose (it is xfail here): nine minutes of
# a second stack beside the catalogue's in `make test` is CI time for a case known to fail
pytestmark = [pytest.mark.slow, pytest.mark.deep, pytest.mark.timeout(900)]

skip_without_engine()


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    """The lab on Compose with the evaluations' agent policy."""
    # an escalated case's alerts must not be taken over by it for the next case
    with running_stack("bfxgd", operator_env={**EVAL_ENV, "AGENT_HANDOVER_S": "0"}) as running:
        yield running


@pytest.fixture(scope="module")
def admin(stack: ComposeStack) -> Iterator[tuple[ActionClient, str]]:
    """The game day's own admin key (audit reads, routes put back) and its id."""
    key = stack.action_key()
    client = ActionClient(stack.url("ACTION"), key, timeout=240.0)
    yield client, key_id_of(key) or ""
    client.close()


# Known gap (README, "Game day on Compose"): observability's process_stopped reads /proc and
# the cgroup freezer of the target's pid, which its container cannot see, so a paused target
# is only failing probes to the agent and it escalates.
HANG_GAP = pytest.mark.xfail(
    strict=False, reason="observability cannot see a paused container's process as stopped"
)


@pytest.mark.parametrize(
    "fault", [pytest.param(f, marks=HANG_GAP) if f == "api-hang" else f for f in CASES]
)
def test_the_agent_fixes_it_inside_containers(
    stack: ComposeStack, admin: tuple[ActionClient, str], fault: str
) -> None:
    actions, own = admin
    target = stack.url("TARGET")
    assert wait_until(lambda: journey_ok(target), 120), "the lab was not healthy before the case"
    wait_settled(stack.url("OBSERVABILITY"))
    with stack.chaos() as chaos:
        result = run_case(target=target, chaos=chaos, actions=actions, own_key_id=own, fault=fault)
    print(f"\n{result.line('docker', fault)}")  # noqa: T201 - the figures the README quotes
    if CASES[fault] == "switch-to-fallback":
        actions.act("switch-to-fallback", {"dependency": "pricing", "route": "primary"}, wait=True)
    assert result.outage.failed_journeys > 0, "the fault never reached users"
    assert result.outage.recovered, f"{fault}: users not served again"
    assert (CASES[fault], "succeeded") in result.actions, result.actions
    assert journey_ok(target)
