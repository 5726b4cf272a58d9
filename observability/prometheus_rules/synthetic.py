"""Synthetic series that cross a detector rule, and when its PromQL alert must fire.

Times count scrapes. Where Prometheus versions differ (Prometheus 2 counts both ends of a
range, Prometheus 3 only the newer one), the series are laid out so the expectation holds
on either: a window is pinned by samples spread over exactly its length (they fire) and
over two samples more (they never do).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from observability.detector import rules
from observability.detector.windows import compare
from observability.prometheus_rules.promql import Stretch

DENOMINATOR = 4.0  # a power of two: a synthetic ratio is exact
Values = Sequence[float | None]  # one sample per scrape; None: no sample


Check = tuple[int, dict[str, float]]  # at this evaluation exactly these cases fire, with values


@dataclass
class Timeline:
    """One test group: series by case, and what fires when."""

    cases: Mapping[str, Values]
    checks: list[Check]
    baseline: float = math.nan
    mirrored: bool = True  # "crossing" again on a service and labels the rule does not watch
    scale: float = 1.0  # what the values were multiplied by (a ratio's denominator)
    name: str = ""  # what the group tests, beside the rule's name


def sides(op: str, value: float, *, boundary: bool) -> tuple[float, float]:
    """A healthy and a failing value for `x op value`: with `boundary`, whichever of them
    the op allows sits on the threshold itself; without, both keep a step off it."""
    step = 1.0 if value.is_integer() else abs(value) / 2
    where = {"below": value - step, "at": value, "above": value + step}
    healthy, failing = (_ON_THRESHOLD if boundary else _OFF_THRESHOLD)[op]
    return round(where[healthy], 12), round(where[failing], 12)


# (healthy, failing) for each op.
_ON_THRESHOLD = {
    ">": ("at", "above"),
    ">=": ("below", "at"),
    "<": ("at", "below"),
    "<=": ("above", "at"),
    "==": ("above", "at"),
    "!=": ("at", "above"),
}
_OFF_THRESHOLD = _ON_THRESHOLD | {
    ">": ("below", "above"),
    ">=": ("below", "above"),
    "<": ("above", "below"),
    "<=": ("above", "below"),
}


def spread(count: int, width: int, hit: float, gap: float | None) -> list[float | None]:
    """`width` samples, `count` of them `hit`: the last, the first and evenly between."""
    last = width - 1
    spots = {round(i * last / (count - 1)) for i in range(count)} if count > 1 else {last}
    return [hit if i in spots else gap for i in range(width)]


def firing(fire: int, fired: dict[str, float]) -> list[Check]:
    """`fired` fire at `fire`, and nothing one evaluation earlier."""
    return [(fire - 1, {}), (fire, fired)]


def timelines(rule: rules.Rule, stretch: Stretch) -> list[Timeline]:
    """The test groups of one rule."""
    wait = math.ceil(stretch.samples(rule.for_s))  # evaluations the alert is pending
    if isinstance(rule, rules.ThresholdRule):
        healthy, failing = sides(rule.op, rule.value, boundary=True)
        start = 2
        crossing = [healthy] * start + [failing] * (wait + 2)
        fire = start + wait
        cases = {"crossing": crossing, "healthy": [healthy] * len(crossing)}
        return [Timeline(cases, firing(fire, {"crossing": failing}))]
    if isinstance(rule, rules.KOfNRule):
        return _k_of_n(rule, wait)
    if isinstance(rule, rules.IncreaseRule):
        return [_increase(rule, stretch, wait)]
    if isinstance(rule, rules.BaselineRule):
        return [_baseline(rule, stretch, wait)]
    return _windowed(rule, stretch, wait)


def _k_of_n(rule: rules.KOfNRule, wait: int) -> list[Timeline]:
    healthy, failing = sides(rule.op, rule.value, boundary=True)
    start, n, k = rule.n + 1, rule.n, rule.k  # the whole window healthy first
    # k failures within n samples fire; then failing on, so the count never drops under k.
    crossing = [healthy] * start + spread(k, n, failing, healthy) + [failing] * (wait + 2)
    fire = start + n - 1 + wait
    window = crossing[fire - n : fire + 1]  # Prometheus 2's n + 1: the same for wait 0
    cases: dict[str, Values] = {"crossing": crossing, "healthy": [healthy] * len(crossing)}
    found = [Timeline(cases, firing(fire, {"crossing": float(window.count(failing))}))]
    if k > 1:  # quiet when its last failure comes, the one time it could reach k
        wide = [healthy, *spread(k, n + 2, failing, healthy), healthy]
        name = f"{k} failures over {n + 2} samples"
        found.append(Timeline({"spread_too_wide": wide}, [(n + 2, {})], mirrored=False, name=name))
    return found


def _windowed(
    rule: rules.RatioRule | rules.QuantileRule, stretch: Stretch, wait: int
) -> list[Timeline]:
    # A mean or an interpolated quantile of a constant can be off by an ulp: the healthy
    # series keeps a step off the threshold.
    healthy, failing = sides(rule.op, rule.value, boundary=False)
    scale = DENOMINATOR if isinstance(rule, rules.RatioRule) and rule.denominator else 1.0
    healthy, failing = healthy * scale, failing * scale
    span = math.ceil(stretch.window(rule) / stretch.scrape_s)
    start = span + 1
    crossing = [healthy] * start + [failing] * (span + wait + 2)
    # Once the whole window fails, its mean or quantile is `failing`, on any Prometheus.
    cases = {"crossing": crossing, "healthy": [healthy] * len(crossing)}
    fire = start + span + wait
    checks: list[Check] = [(start - 1, {}), (fire, {"crossing": failing / scale})]
    found = [Timeline(cases, checks, scale=scale)]
    if 1 < rule.min_samples <= span:
        # New series: min_samples samples within the window fire (and keep firing as more
        # come); spread wider they do not, even when their last one comes.
        sparse = [None] + spread(rule.min_samples, span, failing, None) + [failing] * (wait + 2)
        wide = [None] + spread(rule.min_samples, span + 2, failing, None)
        new = {"min_samples_in_window": sparse, "min_samples_spread_too_wide": wide}
        fired = {"min_samples_in_window": failing / scale}
        checks = [*firing(span + wait, fired), (span + 2 + wait, fired)]
        name = f"{rule.min_samples} samples over {span} or {span + 2}"
        found.append(Timeline(new, checks, mirrored=False, scale=scale, name=name))
    return found


def _increase(rule: rules.IncreaseRule, stretch: Stretch, wait: int) -> Timeline:
    span = stretch.window(rule) / stretch.scrape_s
    if not span.is_integer():
        raise ValueError(f"rule {rule.name}: no test for a window of {span} scrapes")
    healthy_total, failing_total = sides(rule.op, rule.value, boundary=False)
    up = rule.op in (">", ">=", "!=")
    per_healthy = (math.floor if up else math.ceil)(healthy_total / span)
    per_failing = (math.ceil if up else math.floor)(failing_total / span)
    if not (
        compare(span * per_failing, rule.op, rule.value)
        and not compare(span * per_healthy, rule.op, rule.value)
        and (not rule.counter or min(per_healthy, per_failing) >= 0)
    ):
        raise ValueError(f"rule {rule.name}: no whole steps cross {rule.op} {rule.value}")
    # Whole steps and a base far from zero: no extrapolation or counter reset to round.
    start, base = int(span) + 1, 100.0
    length = start + int(span) + wait + 2
    healthy = [base + per_healthy * i for i in range(length)]
    turn = base + per_healthy * (start - 1)
    crossing = healthy[:start] + [turn + per_failing * (i + 1) for i in range(length - start)]
    fire = start - 1 + int(span) + wait  # the whole window rising at the failing pace
    cases = {"crossing": crossing, "healthy": healthy}
    return Timeline(cases, [(start - 1, {}), (fire, {"crossing": span * per_failing})])


def _baseline(rule: rules.BaselineRule, stretch: Stretch, wait: int) -> Timeline:
    def pair(level: float) -> tuple[float, float]:
        margin = rule.amount if rule.amount is not None else level * (rule.fraction or 0.0)
        return level, level - 2 * margin if rule.direction == "drop" else level + 2 * margin

    healthy, failing = pair(max(3 * rule.amount if rule.amount else 100.0, 2 * rule.min_baseline))
    start = 3
    crossing = [healthy] * start + [failing] * (wait + 2)
    fire = start + wait
    cases = {"crossing": crossing, "healthy": [healthy] * len(crossing)}
    if rule.min_baseline > 0:
        low, low_failing = pair(rule.min_baseline / 2)
        cases["under_min_baseline"] = [low] * start + [low_failing] * (wait + 2)
    # The baseline ends one scrape back: at the first failing sample it is all healthy.
    span = int(stretch.window(rule) // stretch.scrape_s)
    seen = [v for v in crossing[max(0, fire - 1 - span) : fire] if v is not None]
    return Timeline(cases, firing(fire, {"crossing": failing}), baseline=sum(seen) / len(seen))
