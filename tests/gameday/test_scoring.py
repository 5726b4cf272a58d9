"""The scorecard judge on recorded cases: a pass, and each way a case fails."""

from gameday.report.schema import (
    ActionTaken,
    CaseResult,
    Expected,
    FaultRecord,
    Incident,
    Outage,
)
from gameday.scoring import judge, verdict

T0 = 1_700_000_000.0
RESTART = Expected(diagnosis="api-crash", action="restart-api", state="resolved")
BLOCKERS = Expected(diagnosis="db-lock", action="terminate-db-blockers", state="resolved")
PARTITION = Expected(diagnosis="net-db-partition", action="escalate", state="escalated")


def _case(**changes: object) -> CaseResult:
    """A recorded api-crash case the agent fixed: restart at 4 s, users back at 7 s."""
    base = CaseResult(
        id="api-crash#1/agent",
        case="api-crash",
        kind="chaos",
        arm="agent",
        status="failed",
        expected=RESTART,
        faults=[FaultRecord(fault="api-crash", how="chaos", injected_at=T0, reverted_at=T0 + 30)],
        started_at=T0,
        finished_at=T0 + 35,
        incidents=[Incident(id="i1", diagnosis="api-crash", state="resolved")],
        diagnosis_correct=True,
        actions=[
            ActionTaken(action="restart-api", outcome="succeeded", at_s=4.0, verdict="correct")
        ],
        outage=Outage(start_s=0.3, end_s=7.0, outage_s=6.7, journeys=60, failed_journeys=14),
    )
    return base.model_copy(update=changes)


def test_the_right_fix_in_time_passes() -> None:
    result = judge(result=_case(), expected=[RESTART])
    assert result.status == "passed", result.reasons
    assert result.recovered_by == "responder"
    assert result.actions[0].verdict == "correct"


def test_a_wrong_action_fails_and_names_what_ran() -> None:
    actions = [ActionTaken(action="restart-db", outcome="succeeded", at_s=4.0, verdict="correct")]
    wrong = [Incident(id="i1", diagnosis="db-down", state="resolved")]
    result = judge(result=_case(actions=actions, incidents=wrong), expected=[RESTART])
    assert result.diagnosis_correct is False
    assert result.status == "failed"
    assert result.actions[0].verdict == "harmful"  # restart-db destroys sessions: never free
    assert any("restart-api" in r and "did not run" in r for r in result.reasons)
    assert any(r.startswith("harmful action: restart-db") for r in result.reasons)
    assert any(r.startswith("diagnosed") for r in result.reasons)


def test_an_unneeded_action_fails_even_with_the_right_one() -> None:
    actions = [
        ActionTaken(action="clear-cache", outcome="succeeded", at_s=3.0, verdict="correct"),
        ActionTaken(action="restart-api", outcome="succeeded", at_s=4.0, verdict="correct"),
    ]
    result = judge(result=_case(actions=actions), expected=[RESTART])
    assert result.status == "failed"
    assert [a.verdict for a in result.actions] == ["unneeded", "correct"]
    assert result.reasons == ["unneeded action: clear-cache"]


def test_a_refused_attempt_is_not_held_against_the_responder() -> None:
    actions = [
        ActionTaken(action="clear-cache", outcome="refused", at_s=3.0, verdict="correct"),
        ActionTaken(action="restart-api", outcome="succeeded", at_s=4.0, verdict="correct"),
    ]
    assert judge(result=_case(actions=actions), expected=[RESTART]).status == "passed"


def test_a_fault_left_behind_fails() -> None:
    faults = [
        FaultRecord(
            fault="db-lock",
            how="by-hand",
            maker="psql-lock",
            injected_at=T0,
            reverted_at=T0 + 30,
            left_behind=["the locking session was still alive"],
        )
    ]
    actions = [
        ActionTaken(action="terminate-db-blockers", outcome="succeeded", at_s=5, verdict="correct")
    ]
    incidents = [Incident(id="i1", diagnosis="db-lock", state="resolved")]
    case = _case(faults=faults, actions=actions, expected=BLOCKERS, incidents=incidents)
    result = judge(result=case, expected=[BLOCKERS])
    assert result.status == "failed"
    assert result.reasons == ["db-lock left behind: the locking session was still alive"]


def test_lost_data_fails() -> None:
    result = judge(result=_case(data_lost=["orders: 290 of 300 rows"]), expected=[RESTART])
    assert result.reasons == ["data lost: orders: 290 of 300 rows"]


def test_a_recovery_at_the_revert_is_not_credited() -> None:
    outage = Outage(start_s=0.3, end_s=31.0, outage_s=30.7)
    result = judge(result=_case(outage=outage), expected=[RESTART])
    assert result.recovered_by == "revert"
    assert result.status == "failed"
    assert "recovered only when the fault was reverted" in result.reasons[0]


def test_users_never_recovered_fails_with_the_lower_bound() -> None:
    outage = Outage(start_s=0.3, outage_s=89.7, recovered=False, censored=True)
    result = judge(result=_case(outage=outage, actions=[]), expected=[RESTART])
    assert result.recovered_by == "none"
    assert result.reasons[0] == "users not recovered within the case (>= 90s)"


def test_escalating_a_partition_passes_without_recovery_but_not_with_a_restart() -> None:
    outage = Outage(start_s=0.5, outage_s=60.0, recovered=False, censored=True)
    paged = [ActionTaken(action="escalate", outcome="succeeded", at_s=9.0, verdict="correct")]
    paged_incident = [Incident(id="i1", diagnosis="net-db-partition", state="escalated")]
    case = _case(expected=PARTITION, outage=outage, actions=paged, incidents=paged_incident)
    assert judge(result=case, expected=[PARTITION]).status == "passed"
    restarted = [
        *paged,
        ActionTaken(action="restart-api", outcome="succeeded", at_s=12.0, verdict="correct"),
    ]
    case = _case(expected=PARTITION, outage=outage, actions=restarted, incidents=paged_incident)
    result = judge(result=case, expected=[PARTITION])
    assert result.actions[1].verdict == "harmful"
    assert result.status == "failed"


def test_the_control_case_passes_only_when_nothing_happens() -> None:
    noop = Expected(diagnosis=None, action=None, state="none")
    quiet = _case(kind="control", expected=noop, actions=[], incidents=[], outage=Outage())
    assert judge(result=quiet, expected=[noop]).status == "passed"
    busy = quiet.model_copy(
        update={
            "actions": [
                ActionTaken(action="restart-api", outcome="succeeded", at_s=2, verdict="correct")
            ]
        }
    )
    assert judge(result=busy, expected=[noop]).reasons == ["action taken: restart-api"]


def test_two_faults_need_both_fixes() -> None:
    outage_fix = Expected(
        diagnosis="upstream-outage",
        action="switch-to-fallback",
        params={"dependency": "pricing"},
        state="resolved",
    )
    actions = [
        ActionTaken(
            action="switch-to-fallback",
            params={"dependency": "pricing"},
            outcome="succeeded",
            at_s=5.0,
            verdict="correct",
        ),
    ]
    result = judge(result=_case(actions=actions), expected=[BLOCKERS, outage_fix])
    assert any("terminate-db-blockers" in r for r in result.reasons)
    assert result.actions[0].verdict == "correct"
    assert (
        verdict(action="switch-to-fallback", params={"dependency": "db"}, expected=[outage_fix])
        == "unneeded"
    )


def test_in_a_sequence_a_fault_the_other_fix_also_fixed_counts_as_handled() -> None:
    auth = Expected(diagnosis="db-auth-failure", action="regenerate-env", state="resolved")
    faults = [
        FaultRecord(fault="db-auth-failure", how="chaos", injected_at=T0, reverted_at=T0 + 60),
        FaultRecord(fault="api-crash", how="chaos", injected_at=T0 + 7, reverted_at=T0 + 60),
    ]
    actions = [
        ActionTaken(action="regenerate-env", outcome="succeeded", at_s=17, verdict="correct")
    ]
    incidents = [Incident(id="i1", diagnosis="db-auth-failure", state="resolved")]
    outage = Outage(start_s=0.5, end_s=20.0, outage_s=19.5)
    case = _case(
        kind="sequence", faults=faults, actions=actions, incidents=incidents, outage=outage
    )
    result = judge(result=case, expected=[auth, RESTART])
    assert result.status == "passed", result.reasons
    assert result.diagnosis_correct is True
    # ...but not when the crash was still there afterwards
    faults[1].left_behind = ["CRUD probe: ConnectError"]
    result = judge(
        result=_case(
            kind="sequence", faults=faults, actions=actions, incidents=incidents, outage=outage
        ),
        expected=[auth, RESTART],
    )
    assert "restart-api did not run (regenerate-env:succeeded)" in result.reasons
    assert result.diagnosis_correct is False
    # a fault alone always needs its own fix
    alone = _case(
        actions=actions,
        incidents=incidents[:0] + [Incident(id="i2", diagnosis="api-crash", state="resolved")],
    )
    assert (
        "restart-api did not run (regenerate-env:succeeded)"
        in judge(result=alone, expected=[RESTART]).reasons
    )


def test_a_fix_landing_during_the_first_good_journey_is_credited() -> None:
    # the clean window's first journey began at 6.0 s and waited on the lock the fix ended
    late = [ActionTaken(action="restart-api", outcome="succeeded", at_s=6.8, verdict="correct")]
    outage = Outage(start_s=0.3, end_s=6.0, outage_s=5.7)
    assert judge(result=_case(actions=late, outage=outage), expected=[RESTART]).recovered_by == (
        "responder"
    )
    later = [ActionTaken(action="restart-api", outcome="succeeded", at_s=12.0, verdict="correct")]
    result = judge(result=_case(actions=later, outage=outage), expected=[RESTART])
    assert result.recovered_by == "unknown"  # users were back before anyone acted
