"""Pure arithmetic over a window of samples: comparisons, quantiles, counter increases."""

import math
import operator
from collections.abc import Callable, Sequence

from observability.model import Sample

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def compare(value: float, op: str, threshold: float) -> bool:
    """`value op threshold`; NaN never satisfies a comparison."""
    if math.isnan(value):
        return False
    return OPS[op](value, threshold)


def finite(points: Sequence[Sample]) -> list[float]:
    """The values that are numbers (NaN and infinities left out)."""
    return [p.value for p in points if math.isfinite(p.value)]


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile with linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of nothing")
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def counter_increase(base: float | None, points: Sequence[Sample]) -> float:
    """What a cumulative counter gained from `base` through `points`.

    A drop means the counter restarted from zero (its new value is all gain), as
    Prometheus's increase() treats it. A `base` of None starts from the first point.
    """
    total = 0.0
    previous = base
    for value in finite(points):
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total
