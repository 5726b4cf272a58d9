"""The Compose game day's five cases on the local backend (`breakfix run`), for the README's
side-by-side user-outage figures: the same agent policy, probe and arithmetic
(tests.support.agent_case). Kept out of `make test` (`make test-deep` runs it): the local
backend's own game days and evaluations already test these fixes."""

from collections.abc import Iterator

import pytest

from tests.support.agent_case import CASES, run_case, wait_settled
from tests.support.compose_stack import journey_ok, wait_until
from tests.support.eval_lab import EvalLab, running_eval_lab

pytestmark = [pytest.mark.slow, pytest.mark.deep, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    """A local lab with the evaluations' agent policy."""
    with running_eval_lab("breakfix-twin-", env={"AGENT_HANDOVER_S": "0"}) as running:
        yield running


@pytest.mark.parametrize("fault", list(CASES))
def test_the_agent_fixes_it_on_the_local_backend(lab: EvalLab, fault: str) -> None:
    target = str(lab.target.base_url).rstrip("/")
    assert wait_until(lambda: journey_ok(target), 120), "the lab was not healthy before the case"
    wait_settled(str(lab.observability.base_url).rstrip("/"))
    result = run_case(
        target=target, chaos=lab.chaos, actions=lab.actions, own_key_id=lab.own_key_id, fault=fault
    )
    print(f"\n{result.line('local', fault)}")  # noqa: T201 - the figures the README quotes
    if CASES[fault] == "switch-to-fallback":
        lab.actions.act("switch-to-fallback", {"dependency": "pricing", "route": "primary"})
    assert result.outage.recovered, f"{fault}: users not served again"
    assert (CASES[fault], "succeeded") in result.actions, result.actions
