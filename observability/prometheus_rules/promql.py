"""A detector rule as a PromQL alert expression, at Prometheus's resolution.

The detector samples every `interval_s` (1 s); Prometheus scrapes every 15 s. A window or a
wait of n detector samples becomes n scrapes (`Stretch`), so a rule judges as many samples
in either place. A baseline's time constant is a time, not a count of samples: it becomes
an average over twice that time (the same mean age as the detector's moving average), and
over four scrapes at least.
"""

import json
import math
import re
from dataclasses import dataclass

from observability.detector import rules
from observability.exposition import metric_name

_UNITS = (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_DURATION = re.compile(r"(\d+)(ms|h|m|s)")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


def duration(seconds: float) -> str:
    """A Prometheus duration: 75 -> 1m15s, 9000 -> 2h30m, 0 -> 0s (milliseconds at most)."""
    left = round(seconds * 1000)
    if left <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, left = divmod(left, round(size * 1000))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def seconds(text: str) -> float:
    """The seconds of a Prometheus duration such as 15s or 1m15s."""
    found = _DURATION.findall(text)
    if not found or "".join(n + u for n, u in found) != text:
        raise ValueError(f"not a duration: {text!r}")
    size = dict(_UNITS)
    return sum(int(n) * size[u] for n, u in found)


@dataclass(frozen=True)
class Stretch:
    """Detector durations at Prometheus's resolution: n detector samples span n scrapes."""

    interval_s: float  # the detector's sampling interval (rules.yaml interval_s)
    scrape_s: float  # Prometheus's scrape and rule evaluation interval

    def samples(self, detector_s: float) -> float:
        """How many detector samples `detector_s` spans."""
        return detector_s / self.interval_s

    def seconds(self, detector_s: float) -> float:
        """The same number of samples at Prometheus's resolution."""
        return self.samples(detector_s) * self.scrape_s

    def window(self, rule: rules.Rule) -> float:
        """The range a windowed rule reads, in Prometheus seconds (0 for the others)."""
        if isinstance(rule, rules.KOfNRule):
            return rule.n * self.scrape_s
        if isinstance(rule, rules.BaselineRule):
            return max(2 * rule.tau_s, 4 * self.scrape_s)
        if isinstance(rule, rules.RatioRule | rules.QuantileRule | rules.IncreaseRule):
            return self.seconds(rule.window_s)
        return 0.0


def label_name(name: str, rule: rules.Rule) -> str:
    """`name`, or a ValueError naming the rule when Prometheus would refuse it."""
    if not _LABEL_NAME.match(name):
        raise ValueError(f"rule {rule.name}: {name!r} is not a Prometheus label name")
    return name


def selector(rule: rules.Rule, metric: str | None = None) -> str:
    """`breakfix_<metric>{...}` for the rule's services and matched labels; another metric
    of the rule (its denominator) for its services only, as the detector reads it."""
    matchers = []
    if rule.services:
        if len(rule.services) == 1:
            matchers.append(f"service={json.dumps(rule.services[0])}")
        else:
            pattern = "|".join(_REGEX_SPECIAL.sub(r"\\\1", s) for s in rule.services)
            matchers.append(f"service=~{json.dumps(pattern)}")
    if metric is None:
        matchers += [f"{label_name(k, rule)}={json.dumps(v)}" for k, v in rule.match.items()]
    name = metric_name(metric or rule.metric)
    return f"{name}{{{', '.join(matchers)}}}" if matchers else name


def number(value: float) -> str:
    """A PromQL number literal: 3 rather than 3.0, 83886080 rather than 8.388608e+07."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def baseline(rule: rules.BaselineRule, stretch: Stretch, series: str | None = None) -> str:
    """The baseline a sample is judged against: the average before it (one scrape back, so
    the sample judged is not part of its own baseline)."""
    window = duration(stretch.window(rule))
    return (
        f"avg_over_time({series or selector(rule)}[{window}] offset {duration(stretch.scrape_s)})"
    )


def expression(rule: rules.Rule, stretch: Stretch) -> str:
    """The alert's PromQL: its value is what the detector reports as the rule's value."""
    series = selector(rule)
    window = duration(stretch.window(rule))
    if isinstance(rule, rules.ThresholdRule):
        return f"{series} {rule.op} {number(rule.value)}"
    if isinstance(rule, rules.KOfNRule):
        # Failed samples among the last n scrapes. A sample that never arrives is not counted:
        # Prometheus sees observability's newest value until the series goes stale.
        step = duration(stretch.scrape_s)
        failing = f"{series} {rule.op} {number(rule.value)}"
        return f"count_over_time(({failing})[{window}:{step}]) >= {rule.k}"
    if isinstance(rule, rules.IncreaseRule):
        if rule.counter:
            return f"increase({series}[{window}]) {rule.op} {number(rule.value)}"
        return f"({series} - {series} offset {window}) {rule.op} {number(rule.value)}"
    if isinstance(rule, rules.BaselineRule):
        return _baseline_expression(rule, stretch)
    return _window_expression(rule, stretch)


def _window_expression(rule: rules.RatioRule | rules.QuantileRule, stretch: Stretch) -> str:
    series, window = selector(rule), duration(stretch.window(rule))
    if isinstance(rule, rules.QuantileRule):
        value = f"quantile_over_time({number(rule.q)}, {series}[{window}])"
    else:
        value = f"avg_over_time({series}[{window}])"
        if rule.denominator is not None:
            # The mean of the denominator's samples of the same service, as the detector
            # divides by; a zero denominator is no data, not a ratio.
            den = f"avg by (service) (avg_over_time({selector(rule, rule.denominator)}[{window}]))"
            value = f"{value} / on (service) group_left () ({den} != 0)"
    expr = f"{value} {rule.op} {number(rule.value)}"
    if rule.min_samples > 1:
        expr += f" and count_over_time({series}[{window}]) >= {rule.min_samples}"
    return expr


def _baseline_expression(rule: rules.BaselineRule, stretch: Stretch) -> str:
    # The detector judges no series whose baseline is under min_baseline (0 by default).
    base = f"({baseline(rule, stretch)} >= {number(rule.min_baseline)})"
    op, sign = ("<", "-") if rule.direction == "drop" else (">", "+")
    if rule.amount is not None:
        bound = f"{base} {sign} {number(rule.amount)}"
    else:
        assert rule.fraction is not None
        if rule.min_baseline >= 0:  # the baseline is not negative: its margin is a factor
            factor = 1 - rule.fraction if rule.direction == "drop" else 1 + rule.fraction
            bound = f"{number(round(factor, 12))} * {base}"
        else:
            bound = f"{base} {sign} abs({base}) * {number(rule.fraction)}"
    return f"{selector(rule)} {op} {bound}"
