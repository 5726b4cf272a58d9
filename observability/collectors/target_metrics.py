"""The target's `/metrics`: request rate, 5xx ratio, p50/p99 latency and DB pool use.

Rates, ratios and quantiles are taken from the deltas between two scrapes, not from the
counters' lifetime totals, so they describe the last interval. A counter that went down
means the target restarted: the collector starts over from that scrape.
"""

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from observability.collectors.histogram import quantile
from observability.model import Collection, Sample

SERVICE = "target"
REQUESTS = "breakfix_http_requests_total"
BUCKETS = "breakfix_http_request_duration_seconds_bucket"
UPSTREAM = "breakfix_upstream_requests_total"
GAUGES = {
    "breakfix_db_pool_connections_in_use": "db_pool_in_use",
    "breakfix_db_pool_size_connections": "db_pool_size",
    "breakfix_db_pool_overflow_connections": "db_pool_overflow",
}

Key = tuple[tuple[str, str], ...]


@dataclass
class Scrape:
    """The counters and gauges of one /metrics text, at a monotonic instant."""

    at: float
    requests: dict[Key, float] = field(default_factory=dict)  # (route, status) -> count
    buckets: dict[Key, float] = field(default_factory=dict)  # (route, le) -> count
    upstream: dict[Key, float] = field(default_factory=dict)  # (route, outcome) -> count
    gauges: dict[str, float] = field(default_factory=dict)


def parse(text: str, *, at: float, excluded_routes: Iterable[str] = ("/metrics",)) -> Scrape:
    """Keep what the collector derives from; requests to `excluded_routes` are ignored."""
    excluded = set(excluded_routes)
    scrape = Scrape(at=at)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = s.labels
            if s.name == REQUESTS and labels.get("route") not in excluded:
                _add(
                    scrape.requests,
                    (("route", labels["route"]), ("status", labels["status"])),
                    s.value,
                )
            elif s.name == BUCKETS and labels.get("route") not in excluded:
                _add(scrape.buckets, (("route", labels["route"]), ("le", labels["le"])), s.value)
            elif s.name == UPSTREAM:
                key = (("route", labels.get("route", "")), ("outcome", labels.get("outcome", "")))
                _add(scrape.upstream, key, s.value)
            elif s.name in GAUGES:
                scrape.gauges[GAUGES[s.name]] = s.value
    return scrape


def _add(into: dict[Key, float], key: Key, value: float) -> None:
    into[key] = into.get(key, 0.0) + value


def went_down(previous: Scrape, current: Scrape) -> bool:
    """Whether any counter decreased: the target restarted between the scrapes."""
    for old, new in (
        (previous.requests, current.requests),
        (previous.buckets, current.buckets),
        (previous.upstream, current.upstream),
    ):
        if any(new.get(key, 0.0) < value for key, value in old.items()):
            return True
    return False


def derive(previous: Scrape | None, current: Scrape, now: float) -> list[Sample]:
    """Gauges always; rate, ratio and quantiles when `previous` is a usable earlier scrape."""
    out = [Sample(now, SERVICE, metric, value) for metric, value in current.gauges.items()]
    if previous is None or current.at <= previous.at or went_down(previous, current):
        return out
    elapsed = current.at - previous.at

    def delta(old: dict[Key, float], new: dict[Key, float], key: Key) -> float:
        return new[key] - old.get(key, 0.0)

    per_status = [
        (dict(k)["status"], delta(previous.requests, current.requests, k)) for k in current.requests
    ]
    total = sum(d for _, d in per_status)
    errors = sum(d for status, d in per_status if status.startswith("5"))
    out.append(Sample(now, SERVICE, "http_request_rate", total / elapsed))
    out.append(Sample(now, SERVICE, "http_5xx_ratio", errors / total if total > 0 else 0.0))
    buckets: dict[float, float] = {}
    for key in current.buckets:
        bound = float(dict(key)["le"])
        buckets[bound] = buckets.get(bound, 0.0) + delta(previous.buckets, current.buckets, key)
    if buckets and math.inf in buckets:
        for q, metric in ((0.5, "http_latency_p50_seconds"), (0.99, "http_latency_p99_seconds")):
            value = quantile(q, buckets)
            if value is not None:
                out.append(Sample(now, SERVICE, metric, value))
    out.extend(_upstream(previous, current, now))
    return out


def _upstream(previous: Scrape, current: Scrape, now: float) -> list[Sample]:
    """Share of failed upstream calls per route (primary/fallback) over the interval."""
    calls: dict[str, list[float]] = {}
    for key, value in current.upstream.items():
        labels = dict(key)
        d = value - previous.upstream.get(key, 0.0)
        entry = calls.setdefault(labels["route"], [0.0, 0.0])
        entry[0] += d
        if labels["outcome"] != "success":
            entry[1] += d
    return [
        Sample(now, SERVICE, "upstream_error_ratio", failed / made, (("route", route),))
        for route, (made, failed) in sorted(calls.items())
        if made > 0
    ]


class TargetMetricsCollector:
    """Scrapes the target's /metrics each run and derives interval figures."""

    name = "target_metrics"

    def __init__(
        self, *, url: str, timeout_s: float = 0.7, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout_s, trust_env=False, transport=transport)
        self._previous: Scrape | None = None

    def close(self) -> None:
        self._client.close()

    def collect(self, now: float) -> Collection:
        """Scrape; raises when the target does not answer (its probe tells that story)."""
        response = self._client.get(self.url)
        response.raise_for_status()
        current = parse(response.text, at=time.monotonic())
        samples = derive(self._previous, current, now)
        self._previous = current
        return Collection(samples=samples)
