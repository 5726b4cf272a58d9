"""promtool unit tests for the generated alerts, from synthetic series (synthetic.py).

Each alert fires on a series that crosses its rule, at the evaluation its window and `for`
say and not one earlier, with the labels and the summary and description the detector
itself renders for the same numbers. It stays quiet on a healthy series (on the threshold
where the comparison is exact), on a service or label the rule does not watch, and on
samples spread wider than its window.
"""

import json
import string
from typing import Any

from observability.detector.evaluate import Finding
from observability.detector.rules import RatioRule, Rule
from observability.detector.state import render
from observability.exposition import metric_name
from observability.prometheus_rules.annotations import constants
from observability.prometheus_rules.promql import Stretch, duration, number
from observability.prometheus_rules.synthetic import Timeline, Values, timelines

SERVICE = "target"  # the series' service when the rule watches every service
OTHER = "other"  # a service or label value the rule does not watch


def rule_tests(rule: Rule, stretch: Stretch) -> list[dict[str, Any]]:
    """The promtool test groups of one rule."""
    labels = {"service": rule.services[0] if rule.services else SERVICE, **rule.match}
    labels |= {name: "example" for name in _template_labels(rule) if name not in labels}
    found = timelines(rule, stretch)
    return [
        _group(rule, stretch, labels, t, f"{rule.name}, {t.name}" if t.name else rule.name)
        for t in found
    ]


def _group(
    rule: Rule, stretch: Stretch, labels: dict[str, str], timeline: Timeline, name: str
) -> dict[str, Any]:
    cases = {case: (labels, values) for case, values in timeline.cases.items()}
    if timeline.mirrored:
        crossing = timeline.cases["crossing"]
        if rule.services:
            cases["other_service"] = ({**labels, "service": OTHER}, crossing)
        cases |= {f"other_{key}": ({**labels, key: OTHER}, crossing) for key in rule.match}
    series = [
        {"series": _series(rule.metric, {**lbls, "case": case}), "values": _values(values)}
        for case, (lbls, values) in cases.items()
    ]
    if isinstance(rule, RatioRule) and rule.denominator is not None:
        length = max(len(values) for _, values in cases.values())
        den: Values = [timeline.scale] * length
        for service in sorted({lbls["service"] for lbls, _ in cases.values()}):
            series.append(
                {"series": _series(rule.denominator, {"service": service}), "values": _values(den)}
            )
    checks = [
        _check(
            rule.name,
            at,
            stretch,
            [_alert(rule, stretch, labels, c, v, timeline) for c, v in fired.items()],
        )
        for at, fired in timeline.checks
    ]
    return {
        "name": name,
        "interval": duration(stretch.scrape_s),
        "input_series": series,
        "alert_rule_test": checks,
    }


def _alert(
    rule: Rule,
    stretch: Stretch,
    labels: dict[str, str],
    case: str,
    value: float,
    timeline: Timeline,
) -> dict[str, Any]:
    """The alert promtool must see, its texts as the detector renders them."""
    labels = {**labels, "case": case}
    finding = Finding(
        rule,
        labels["service"],
        tuple(sorted((k, v) for k, v in labels.items() if k != "service")),
        True,
        value,
        {**constants(rule, stretch), "baseline": timeline.baseline},
    )
    notes = {"summary": render(rule.summary, rule, finding)}
    if rule.description:
        notes["description"] = render(rule.description, rule, finding)
    return {
        "exp_labels": {"severity": rule.severity, **rule.labels, **labels},
        "exp_annotations": notes,
    }


def _check(name: str, at: int, stretch: Stretch, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": duration(at * stretch.scrape_s), "alertname": name, "exp_alerts": alerts}


def _template_labels(rule: Rule) -> list[str]:
    parsed = (string.Formatter().parse(t) for t in (rule.summary, rule.description))
    fields = [f for p in parsed for _, f, _, _ in p if f]
    return [f[len("labels[") : -1] for f in fields if f.startswith("labels[")]


def _series(metric: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return f"{metric_name(metric)}{{{inner}}}"


def _values(values: Values) -> str:
    """promtool's notation: `a+bxn` for n more samples b apart (whole b only), `_` for none."""
    out: list[str] = []
    i = 0
    while i < len(values):
        first, step = values[i], _step(values, i)
        j = i + 1
        if first is not None and step is not None and step.is_integer():
            while j < len(values) and _step(values, j - 1) == step:
                j += 1
            if step and j - i < 3:  # two samples read better as they are
                j = i + 1
        if first is None:
            out.append("_")
        elif j - i == 1:
            out.append(number(first))
        else:
            assert step is not None
            rise = f"{'+' if step > 0 else '-'}{number(abs(step))}" if step else ""
            out.append(f"{number(first)}{rise}x{j - i - 1}")
        i = j
    return " ".join(out)


def _step(values: Values, i: int) -> float | None:
    a, b = values[i], values[i + 1] if i + 1 < len(values) else None
    return None if a is None or b is None else b - a
