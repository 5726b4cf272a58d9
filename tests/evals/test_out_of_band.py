"""The same faults caused outside the chaos server are found and fixed the same way.

The agent cannot tell who broke the lab (it never reads the chaos ledger): a psql session
holding ACCESS EXCLUSIVE on a hot table, a SIGSTOP of the target, an ALTER ROLE of the app's
password, a TRUNCATE of a table (after a verified snapshot, as the action server's schedule
would have taken) and a cache dir filled by hand must each lead to the same diagnosis and
fix as the chaos-made fault. One lab for the module, as in test_evals.py; after each case
whatever the agent did not fix is cleaned up, and the lab awaited steady for the next.
"""

import time

import pytest

from gameday.cases import Expected, load_case
from gameday.errors import GamedayError
from gameday.oracles import recovered, take_baseline
from gameday.out_of_band import (
    MAKERS,
    settle,
)
from gameday.side_actions import snapshot
from gameday.steady import wait_steady
from tests.support.eval_judge import judge
from tests.support.eval_lab import EvalLab
from tests.support.eval_timings import CaseRun

pytestmark = pytest.mark.slow

STEADY_WITHIN_S = 150.0


@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", list(MAKERS))
def test_a_fault_made_by_hand_is_fixed_like_the_chaos_one(
    name: str, eval_lab: EvalLab, table: dict[str, CaseRun]
) -> None:
    maker = MAKERS[name]()
    # The chaos-made fault's case says what is expected and how recovery is proven.
    case = load_case(maker.fault)
    expected: Expected = case.expected
    run = table[name] = CaseRun(f"{name} ({maker.fault})", expected_action=expected.action)
    wait_steady(eval_lab, STEADY_WITHIN_S, f"before {name}")
    baseline = take_baseline(eval_lab)
    if expected.action == "restore-db":
        snapshot(eval_lab)
    made_at = time.time()
    problems: list[str] = []
    try:
        maker.make(eval_lab)
        problems = judge(
            eval_lab, expected=expected, injected_at=made_at, within_s=case.timeout_s, run=run
        )
        problems += recovered(eval_lab, case.recovered, baseline)
    except GamedayError as exc:
        problems.append(str(exc))
    finally:
        left = maker.clean(eval_lab)
        settle(eval_lab)
    run.passed, run.note = not problems, "; ".join(problems + left)[:300]
    assert not problems, f"{name}: {problems} (cleaned up after the agent: {left})"
    wait_steady(eval_lab, STEADY_WITHIN_S, f"after {name}")
