"""A game day's arithmetic: per-arm pass rates and timings, and the agent's outage ratios."""

import math
import statistics
from collections.abc import Sequence

from gameday.report.schema import ARMS, Arm, ArmSummary, CaseResult, RunReport

# the arms the agent is compared with, on the (case, repeat) pairs both ran
_BASELINES: tuple[Arm, ...] = ("none", "restart-only")


def user_outage_s(*, case: CaseResult) -> float:
    """The user outage a case counts for: 0 when never hurt, the lower bound when censored.

    A censored outage with no `outage_s` counts from its start to the case's window end.
    """
    outage = case.outage
    if outage.outage_s is not None:
        return outage.outage_s
    if outage.censored and outage.start_s is not None:
        return max(0.0, (case.finished_at - case.started_at) - outage.start_s)
    return 0.0


def nearest_rank(*, values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least pct% of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def _diagnosed_s(case: CaseResult) -> float | None:
    """When the case's first incident was diagnosed, if it was."""
    return case.incidents[0].diagnosed_s if case.incidents else None


def summarize_arm(*, arm: Arm, cases: Sequence[CaseResult]) -> ArmSummary:
    """One arm's summary; timings are over the cases that ran, p95 by nearest rank."""
    ran = [c for c in cases if c.status != "not_run"]
    passed = sum(1 for c in ran if c.status == "passed")
    outages = [user_outage_s(case=c) for c in ran]
    detected = [c.detected_s for c in ran if c.detected_s is not None]
    diagnosed = [d for d in (_diagnosed_s(c) for c in ran) if d is not None]
    return ArmSummary(
        arm=arm,
        cases=len(cases),
        passed=passed,
        not_run=len(cases) - len(ran),
        pass_rate=passed / len(ran) if ran else None,
        outage_median_s=_median(outages),
        outage_p95_s=nearest_rank(values=outages, pct=95),
        detect_median_s=_median(detected),
        diagnose_median_s=_median(diagnosed),
    )


def outage_ratio(*, cases: Sequence[CaseResult], arm: Arm, baseline: Arm) -> float | None:
    """Sum of `arm`'s outages over `baseline`'s, on the (case, repeat) pairs both arms ran."""
    by_arm: dict[Arm, dict[tuple[str, int], float]] = {arm: {}, baseline: {}}
    for c in cases:
        if c.arm in by_arm and c.status != "not_run":
            by_arm[c.arm][(c.case, c.repeat)] = user_outage_s(case=c)
    pairs = by_arm[arm].keys() & by_arm[baseline].keys()
    denominator = sum(by_arm[baseline][p] for p in pairs)
    if not pairs or denominator == 0:
        return None
    return sum(by_arm[arm][p] for p in pairs) / denominator


def summarize(
    *, cases: list[CaseResult]
) -> tuple[list[ArmSummary], dict[str, float | None], float | None]:
    """Per-arm summaries (arms present, in ARMS order), the agent's outage ratios, its pass rate.

    Outage median and p95 are over run cases (never hurt: 0 s; censored: its lower bound);
    p95 is the nearest-rank percentile. A ratio is None with no shared pairs or a zero baseline.
    """
    arms = [
        summarize_arm(arm=arm, cases=[c for c in cases if c.arm == arm])
        for arm in ARMS
        if any(c.arm == arm for c in cases)
    ]
    ratios = {
        f"agent/{baseline}": outage_ratio(cases=cases, arm="agent", baseline=baseline)
        for baseline in _BASELINES
    }
    pass_rate = next((s.pass_rate for s in arms if s.arm == "agent"), None)
    return arms, ratios, pass_rate


def apply_summary(report: RunReport) -> RunReport:
    """A copy of `report` with its arms, outage ratios and pass rate computed from its cases."""
    arms, ratios, pass_rate = summarize(cases=report.cases)
    return report.model_copy(update={"arms": arms, "outage_ratios": ratios, "pass_rate": pass_rate})
