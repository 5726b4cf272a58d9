"""Comparing two game day runs: regressions, cases in one run only, pass-rate deltas."""

import pytest

from gameday.report.schema import CaseStatus
from gameday.store import CaseKey, compare
from tests.support.gameday_factories import make_case, make_report


def _one(
    before: tuple[CaseStatus, float | None], after: tuple[CaseStatus, float | None]
) -> tuple[bool, float | None]:
    """Compare one api-crash case across two runs: (regression, outage delta)."""
    result = compare(
        before=make_report("gd-a", cases=[make_case(status=before[0], outage_s=before[1])]),
        after=make_report("gd-b", cases=[make_case(status=after[0], outage_s=after[1])]),
    )
    (case,) = result.cases
    return case.regression, case.outage_delta_s


def test_passed_to_failed_is_a_regression() -> None:
    assert _one(("passed", 5.0), ("failed", 5.0)) == (True, 0.0)


def test_passed_to_not_run_is_a_regression() -> None:
    assert _one(("passed", 5.0), ("not_run", None)) == (True, None)


def test_failed_to_passed_is_not() -> None:
    assert _one(("failed", 40.0), ("passed", 5.0)) == (False, -35.0)


@pytest.mark.parametrize(
    ("before_s", "after_s", "regression"),
    [
        (5.0, 12.0, True),  # 7 s more: over the 2.5 s that is half of 5 s
        (5.0, 6.0, False),
        (1.0, 2.9, False),  # up 190 %, but under the 2 s floor
        (1.0, 3.5, True),
        (10.0, 14.5, False),  # under half of 10 s
        (10.0, 15.5, True),
        (None, 3.0, True),  # users never hurt before: 0 s -> 3 s
        (12.0, 5.0, False),
    ],
)
def test_an_outage_regresses_when_it_grows_past_the_slack(
    before_s: float | None, after_s: float | None, regression: bool
) -> None:
    assert _one(("passed", before_s), ("passed", after_s))[0] is regression


def test_the_comparison_names_cases_in_one_run_only_and_arm_deltas() -> None:
    before = make_report(
        "gd-a",
        cases=[
            make_case("api-crash"),
            make_case("db-lock"),
            make_case("api-crash", arm="none", status="failed"),
        ],
    )
    after = make_report(
        "gd-b",
        cases=[
            make_case("api-crash", outage_s=12.0),
            make_case("disk-fill", status="failed"),
            make_case("api-crash", arm="none", status="failed"),
            make_case("api-crash", arm="restart-only"),
        ],
    )
    result = compare(before=before, after=after)

    assert [(c.case, c.arm, c.regression) for c in result.cases] == [
        ("api-crash", "agent", True),
        ("api-crash", "none", False),
    ]
    assert result.regressions[0].why == "outage 5.0 s -> 12.0 s"
    assert result.only_before == [CaseKey(case="db-lock", repeat=1, arm="agent")]
    assert result.only_after == [
        CaseKey(case="api-crash", repeat=1, arm="restart-only"),
        CaseKey(case="disk-fill", repeat=1, arm="agent"),
    ]
    assert [(a.arm, a.pass_rate_before, a.pass_rate_after, a.delta) for a in result.arms] == [
        ("agent", 1.0, 0.5, -0.5),
        ("none", 0.0, 0.0, 0.0),
        ("restart-only", None, 1.0, None),
    ]


def test_repeats_are_separate_cases() -> None:
    before = make_report("gd-a", cases=[make_case(repeat=1), make_case(repeat=2)])
    after = make_report("gd-b", cases=[make_case(repeat=2, status="failed")])
    result = compare(before=before, after=after)
    assert [(c.repeat, c.regression) for c in result.cases] == [(2, True)]
    assert result.only_before == [CaseKey(case="api-crash", repeat=1, arm="agent")]
