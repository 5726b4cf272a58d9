"""Game day reports for tests: a case and a run with everything a real one records."""

from gameday.report.schema import (
    ARMS,
    ActionTaken,
    Arm,
    ArmSummary,
    CaseResult,
    CaseStatus,
    Expected,
    FaultRecord,
    Incident,
    Machine,
    Outage,
    RunReport,
)

T0 = 1_767_787_200.0  # 2026-01-07 12:00:00 UTC


def make_case(
    case: str = "api-crash",
    *,
    arm: Arm = "agent",
    repeat: int = 1,
    status: CaseStatus = "passed",
    outage_s: float | None = 5.0,
    censored: bool = False,
    at: float = T0,
) -> CaseResult:
    """One case of one arm; `outage_s=None` means users were never hurt."""
    ran = status != "not_run"
    hurt = ran and outage_s is not None
    outage = Outage(
        start_s=1.5 if hurt else None,
        end_s=1.5 + outage_s if hurt and outage_s is not None and not censored else None,
        outage_s=outage_s if hurt else None,
        recovered=not censored,
        censored=censored,
        journeys=60 if ran else 0,
        failed_journeys=4 if hurt else 0,
        p99_ms=412.7 if ran else None,
    )
    agent = arm == "agent" and ran
    return CaseResult(
        id=f"{case}#{repeat}/{arm}",
        case=case,
        kind="chaos",
        arm=arm,
        repeat=repeat,
        status=status,
        reasons={"passed": [], "failed": ["outage over budget"], "not_run": ["lab not steady"]}[
            status
        ],
        expected=Expected(diagnosis=case, action="restart-api", state="resolved"),
        faults=[
            FaultRecord(fault=case, how="chaos", ledger_id="chx-01", injected_at=at, ttl_s=300.0)
        ]
        if ran
        else [],
        started_at=at,
        finished_at=at + 90.0,
        detected_s=2.5 if agent else None,
        incidents=[
            Incident(
                id="inc-00001", diagnosis=case, state="resolved", detected_s=2.5, diagnosed_s=3.25
            )
        ]
        if agent
        else [],
        diagnosis_correct=True if agent else None,
        actions=[
            ActionTaken(
                action="restart-api",
                params={"service": "api"},
                outcome="succeeded",
                at_s=4.0,
                verdict="correct",
            )
        ]
        if agent
        else [],
        outage=outage,
        recovered_by="responder" if agent else ("revert" if ran else "unknown"),
    )


def _summaries(cases: list[CaseResult]) -> list[ArmSummary]:
    summaries = []
    for arm in ARMS:
        mine = [c for c in cases if c.arm == arm]
        if not mine:
            continue
        ran = [c for c in mine if c.status != "not_run"]
        passed = sum(c.status == "passed" for c in ran)
        summaries.append(
            ArmSummary(
                arm=arm,
                cases=len(mine),
                passed=passed,
                not_run=len(mine) - len(ran),
                pass_rate=passed / len(ran) if ran else None,
                outage_median_s=5.0,
                outage_p95_s=7.5,
                detect_median_s=2.5 if arm == "agent" else None,
                diagnose_median_s=3.25 if arm == "agent" else None,
            )
        )
    return summaries


def make_report(
    run_id: str = "gd-20260107-120000",
    *,
    started_at: float = T0,
    cases: list[CaseResult] | None = None,
    finished: bool = True,
    interrupted: bool = False,
) -> RunReport:
    """A run over `cases` (one passed api-crash on the agent arm by default), summarised."""
    cases = [make_case(at=started_at)] if cases is None else cases
    summaries = _summaries(cases)
    agent = next((s for s in summaries if s.arm == "agent"), None)
    return RunReport(
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + 900.0 if finished else None,
        interrupted=interrupted,
        machine=Machine(host="lab-ci-1", cpus=4, python="3.11.2"),
        # keys in the order jsonb keeps them (shorter first), so a stored run prints as saved
        options={"arms": sorted({c.arm for c in cases}), "repeat": 1, "window_s": 90},
        cases=cases,
        arms=summaries,
        outage_ratios={"agent/none": 1 / 3, "agent/restart-only": None},
        pass_rate=agent.pass_rate if agent else None,
    )
