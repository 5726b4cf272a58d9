"""Baselines learned while healthy: a time-weighted moving average per series.

The average moves only while the rule holds, so a fault freezes the baseline it is judged
against; its time constant keeps a steady rise (a leak) from dragging the baseline along.
"""

import math
from collections.abc import Hashable

from observability.detector.rules import BaselineRule


class Baselines:
    """The learned baseline of every (rule, series) key."""

    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, float]] = {}  # key -> (baseline, ts)

    def get(self, key: Hashable) -> float | None:
        found = self._values.get(key)
        return found[0] if found else None

    def judge(
        self, rule: BaselineRule, key: Hashable, value: float, ts: float
    ) -> tuple[bool, float]:
        """Whether `value` breaks the rule against the baseline; learns from it if not."""
        found = self._values.get(key)
        if found is None:
            self._values[key] = (value, ts)
            return False, value
        base, last = found
        if ts <= last:
            return _broken(rule, base, value), base  # the same sample judged again
        if _broken(rule, base, value):
            self._values[key] = (base, ts)
            return True, base
        alpha = 1.0 - math.exp(-(ts - last) / rule.tau_s)
        self._values[key] = (base + alpha * (value - base), ts)
        return False, base


def _broken(rule: BaselineRule, base: float, value: float) -> bool:
    if base < rule.min_baseline:
        return False
    if rule.fraction is not None:
        margin = abs(base) * rule.fraction
    else:
        assert rule.amount is not None
        margin = rule.amount
    if rule.direction == "drop":
        return value < base - margin
    return value > base + margin
