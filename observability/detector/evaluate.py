"""Judging every rule over the RingStore at a given time: one finding per series.

Missing data is explicit: a finding's `active` is None when the window holds too little to
judge (a service with no samples is not healthy, it is unknown), and a service a rule names
that reports nothing at all still gets a finding, with no data.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from observability.detector.baseline import Baselines
from observability.detector.rules import (
    BaselineRule,
    IncreaseRule,
    KOfNRule,
    QuantileRule,
    RatioRule,
    Rule,
    RuleFile,
    ThresholdRule,
)
from observability.detector.windows import compare, counter_increase, finite, quantile
from observability.model import Sample
from observability.store.ring import RingStore

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one series: active (True/False) or no data (None)."""

    rule: Rule
    service: str
    labels: Labels
    active: bool | None
    value: float | None = None
    context: dict[str, float] = field(default_factory=dict)


class Evaluator:
    """Evaluates a rule file over a store; remembers when series were first seen and the
    learned baselines, so it must be kept between evaluations."""

    def __init__(self, rules: RuleFile) -> None:
        self.rules = rules
        self.baselines = Baselines()
        self._first_seen: dict[tuple[str, str, Labels], float] = {}
        self._started: float | None = None

    def evaluate(self, store: RingStore, now: float) -> list[Finding]:
        """Every rule's findings at `now`, reading only `store`."""
        if self._started is None:
            self._started = now
        latest = store.latest()
        findings: list[Finding] = []
        for rule in self.rules.rules:
            for service, labels in self._instances(rule, latest):
                findings.append(self._judge(rule, store, service, labels, now))
        return findings

    def _instances(self, rule: Rule, latest: Iterable[Sample]) -> list[tuple[str, Labels]]:
        found = {
            (s.service, s.labels)
            for s in latest
            if s.metric == rule.metric
            and (rule.services is None or s.service in rule.services)
            and all(s.label(k) == v for k, v in rule.match.items())
        }
        for service in rule.services or ():
            if not any(svc == service for svc, _ in found):
                found.add((service, tuple(sorted(rule.match.items()))))
        return sorted(found)

    def _points(
        self, store: RingStore, rule: Rule, service: str, labels: Labels, since: float
    ) -> list[Sample]:
        points = store.series(rule.metric, service=service, since=since, labels=dict(labels))
        return [p for p in points if p.labels == labels]

    def _first_seen_at(self, key: tuple[str, str, Labels], points: list[Sample]) -> float | None:
        if key not in self._first_seen and points:
            self._first_seen[key] = points[0].ts
        return self._first_seen.get(key)

    def _judge(
        self, rule: Rule, store: RingStore, service: str, labels: Labels, now: float
    ) -> Finding:
        if isinstance(rule, ThresholdRule | BaselineRule):
            points = self._points(store, rule, service, labels, now - self.rules.stale_after_s)
            values = finite(points)
            if not values:
                return Finding(rule, service, labels, None)
            value = values[-1]
            if isinstance(rule, ThresholdRule):
                hit = compare(value, rule.op, rule.value)
                return Finding(rule, service, labels, hit, value, {"threshold": rule.value})
            key = (rule.name, service, labels)
            hit, base = self.baselines.judge(rule, key, value, points[-1].ts)
            return Finding(rule, service, labels, hit, value, {"baseline": base})
        if isinstance(rule, RatioRule | QuantileRule):
            values = finite(self._points(store, rule, service, labels, now - rule.window_s))
            if len(values) < rule.min_samples:
                return Finding(rule, service, labels, None)
            if isinstance(rule, QuantileRule):
                value = quantile(values, rule.q)
            else:
                value = sum(values) / len(values)
                if rule.denominator is not None:
                    den = finite(
                        store.series(rule.denominator, service=service, since=now - rule.window_s)
                    )
                    if not den or sum(den) == 0:
                        return Finding(rule, service, labels, None)
                    value /= sum(den) / len(den)
            ctx = {"threshold": rule.value, "window_s": rule.window_s}
            return Finding(rule, service, labels, compare(value, rule.op, rule.value), value, ctx)
        if isinstance(rule, KOfNRule):
            return self._k_of_n(rule, store, service, labels, now)
        return self._increase(rule, store, service, labels, now)

    def _k_of_n(
        self, rule: KOfNRule, store: RingStore, service: str, labels: Labels, now: float
    ) -> Finding:
        interval = self.rules.interval_s
        points = self._points(store, rule, service, labels, now - (rule.n + 0.5) * interval)
        seen = self._first_seen_at((rule.name, service, labels), points) is not None
        missing = 0
        if rule.missing_is_failure and seen:
            # Every whole interval since the newest sample is a slot that never reported.
            last = points[-1].ts if points else -math.inf
            missing = min(rule.n, max(0, math.floor((now - last) / interval)))
        recent = points[max(0, len(points) - (rule.n - missing)) :] if rule.n > missing else []
        failed = sum(1 for p in recent if compare(p.value, rule.op, rule.value))
        if not recent and not missing:
            return Finding(rule, service, labels, None)
        ctx = {"k": float(rule.k), "n": float(rule.n), "threshold": rule.value}
        return Finding(rule, service, labels, failed + missing >= rule.k, failed + missing, ctx)

    def _increase(
        self, rule: IncreaseRule, store: RingStore, service: str, labels: Labels, now: float
    ) -> Finding:
        start = now - rule.window_s
        lookback = max(self.rules.stale_after_s, 2 * self.rules.interval_s)
        points = self._points(store, rule, service, labels, start - lookback)
        first = self._first_seen_at((rule.name, service, labels), points)
        before = [p for p in points if p.ts <= start and math.isfinite(p.value)]
        inside = [p for p in points if p.ts > start]
        if not inside:
            return Finding(rule, service, labels, None)
        base = before[-1].value if before else None
        if rule.counter:
            assert self._started is not None
            watched_from = max(start, self._started + self.rules.interval_s)
            if base is None and first is not None and first > watched_from:
                base = 0.0  # a counter that appeared while we watched started at zero
            value = counter_increase(base, inside)
        else:
            values = ([base] if base is not None else []) + finite(inside)
            value = values[-1] - values[0] if values else math.nan
        ctx = {"threshold": rule.value, "window_s": rule.window_s}
        return Finding(rule, service, labels, compare(value, rule.op, rule.value), value, ctx)
