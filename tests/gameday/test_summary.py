"""The game day's arithmetic on the recorded run: pass rates, outages, timings, ratios."""

from pathlib import Path

import pytest

from gameday.report.schema import CaseResult, Expected, Outage, RunReport
from gameday.summary import apply_summary, nearest_rank, summarize, user_outage_s

FIXTURE = Path(__file__).parent / "fixtures" / "run.json"


def _report() -> RunReport:
    """The recorded run: 8 cases of api-crash, db-lock, noop and disk-fill over three arms."""
    return RunReport.model_validate_json(FIXTURE.read_text())


def _case(arm: str, case: str, outage: Outage, status: str = "passed") -> CaseResult:
    """A bare case of a 90 s window."""
    return CaseResult.model_validate(
        {
            "id": f"{case}#1/{arm}",
            "case": case,
            "kind": "chaos",
            "arm": arm,
            "status": status,
            "expected": Expected(diagnosis=None, action=None, state="none"),
            "started_at": 1000.0,
            "finished_at": 1090.0,
            "outage": outage,
        }
    )


def test_the_agent_arm_counts_run_cases_only() -> None:
    arms, _, pass_rate = summarize(cases=_report().cases)
    agent = arms[0]
    assert (agent.arm, agent.cases, agent.passed, agent.not_run) == ("agent", 4, 3, 1)
    assert agent.pass_rate == 1.0  # 3 passed of 3 run; the not-run disk-fill is left out
    assert pass_rate == agent.pass_rate
    # outages of the run cases: api-crash 6.2, db-lock 15.3, noop never hurt (0)
    assert agent.outage_median_s == pytest.approx(6.2)
    assert agent.outage_p95_s == pytest.approx(15.3)  # nearest rank: ceil(0.95 * 3) = 3rd
    assert agent.detect_median_s == pytest.approx((2.5 + 3.0) / 2)  # noop had no alert
    assert agent.diagnose_median_s == pytest.approx((3.6 + 4.4) / 2)


def test_censored_outages_count_their_lower_bound() -> None:
    arms, _, _ = summarize(cases=_report().cases)
    none, restart = arms[1], arms[2]
    assert [a.arm for a in arms] == ["agent", "none", "restart-only"]
    assert (none.passed, none.pass_rate) == (0, 0.0)
    assert none.outage_median_s == pytest.approx((88.3 + 87.9) / 2)  # both censored at 90 s
    assert none.outage_p95_s == pytest.approx(88.3)
    assert none.diagnose_median_s is None  # nobody opened an incident
    assert restart.pass_rate == 0.5
    assert restart.outage_median_s == pytest.approx((7.5 + 60.0) / 2)
    assert restart.outage_p95_s == pytest.approx(60.0)


def test_ratios_sum_the_pairs_both_arms_ran() -> None:
    _, ratios, _ = summarize(cases=_report().cases)
    # api-crash and db-lock are the only (case, repeat) pairs; noop and disk-fill are agent-only
    assert ratios["agent/none"] == pytest.approx((6.2 + 15.3) / (88.3 + 87.9))
    assert ratios["agent/restart-only"] == pytest.approx((6.2 + 15.3) / (7.5 + 60.0))


def test_the_recorded_summary_is_what_apply_summary_computes() -> None:
    report = _report()
    fresh = apply_summary(report.model_copy(update={"arms": [], "outage_ratios": {}}))
    assert fresh.arms == report.arms
    assert fresh.outage_ratios == report.outage_ratios
    assert fresh.pass_rate == report.pass_rate == 1.0
    assert fresh.cases == report.cases


def test_a_censored_outage_without_a_figure_counts_to_the_window_end() -> None:
    case = _case("none", "api-hang", Outage(start_s=10.0, censored=True, recovered=False))
    assert user_outage_s(case=case) == 80.0
    assert user_outage_s(case=_case("none", "noop", Outage())) == 0.0


def test_ratios_are_none_without_pairs_or_with_a_zero_baseline() -> None:
    agent = _case("agent", "api-crash", Outage(start_s=1.0, end_s=5.0, outage_s=4.0))
    unhurt = _case("none", "api-crash", Outage())
    other = _case("restart-only", "db-lock", Outage(start_s=1.0, end_s=9.0, outage_s=8.0))
    _, ratios, _ = summarize(cases=[agent, unhurt, other])
    assert ratios == {"agent/none": None, "agent/restart-only": None}


def test_no_case_run_gives_no_rates() -> None:
    skipped = _case("agent", "disk-fill", Outage(), status="not_run")
    arms, ratios, pass_rate = summarize(cases=[skipped])
    assert arms[0].pass_rate is None and arms[0].outage_median_s is None
    assert pass_rate is None
    assert summarize(cases=[]) == ([], {"agent/none": None, "agent/restart-only": None}, None)


def test_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values=values, pct=95) == 19.0  # ceil(0.95 * 20) = 19th
    assert nearest_rank(values=values, pct=50) == 10.0
    assert nearest_rank(values=[7.0], pct=95) == 7.0
    assert nearest_rank(values=[], pct=95) is None
