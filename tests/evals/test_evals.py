"""Evaluations as data: every catalogue fault, injected through the lab's chaos server into a
live lab, is detected, diagnosed and fixed by the agent with the expected action, and the
catalogue's recovery check passes; noop leads to no incident and no action.

One lab for the module (observability and the agent running; approvals off, no cooldown, a
5 s verification hold, Slack pointed at a loopback receiver). Each case: the lab steady (no
open incident, nothing firing, the victims healthy), the fault injected with the chaos key
(the test's, never the agent's), the incidents opened after the injection awaited closed,
then judged: the expected diagnosis, the expected action run, no other mutating action,
the expected end state, and the recovery oracle. The fault is then reverted through the
chaos API (also when the case failed), routes put back on their primaries, and the lab
awaited steady for the next case. Times per case are printed as a table (`pytest -s`).
"""

import pytest

from gameday.cases import Case, load_cases
from gameday.chaos_faults import inject, revert
from gameday.errors import GamedayError
from gameday.oracles import recovered, take_baseline
from gameday.side_actions import restore_primary_routes, snapshot
from gameday.steady import wait_steady
from tests.support.eval_judge import judge, judge_quiet
from tests.support.eval_lab import EvalLab
from tests.support.eval_timings import CaseRun

pytestmark = pytest.mark.slow

CASES = load_cases()
STEADY_WITHIN_S = 150.0


def test_there_is_a_case_for_every_catalogue_fault(eval_lab: EvalLab) -> None:
    """The chaos server's catalogue and the case dirs agree, one case per fault."""
    catalogue = {f["id"] for f in eval_lab.chaos.get("/catalogue").json()}
    assert {c.fault for c in CASES} == catalogue
    assert len({c.fault for c in CASES}) == len(CASES)


@pytest.mark.timeout(420)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_agent_fixes_the_fault(
    case: Case, eval_lab: EvalLab, table: dict[str, CaseRun]
) -> None:
    run = table[case.name] = CaseRun(case.name, expected_action=case.expected.action)
    wait_steady(eval_lab, STEADY_WITHIN_S, f"before {case.name}")
    baseline = take_baseline(eval_lab)
    if case.expected.action == "restore-db":
        snapshot(eval_lab)
    injected = inject(eval_lab, case.fault, target=case.target, params=case.params)
    problems: list[str] = []
    try:
        if case.expected.state == "none":
            since = injected.requested_at
            problems = judge_quiet(eval_lab, since=since, for_s=case.timeout_s, run=run)
        else:
            problems = judge(
                eval_lab,
                expected=case.expected,
                injected_at=injected.requested_at,
                within_s=case.timeout_s,
                run=run,
            )
            problems += recovered(eval_lab, case.recovered, baseline)
    except GamedayError as exc:  # no incident closed in time: still a row in the table
        problems.append(str(exc))
    finally:
        revert(eval_lab, injected)
        restore_primary_routes(eval_lab)
    run.passed, run.note = not problems, "; ".join(problems)[:300]
    assert not problems, f"{case.name}: {problems}"
    wait_steady(eval_lab, STEADY_WITHIN_S, f"after {case.name}")
