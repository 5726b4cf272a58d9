"""The store's latest samples in the Prometheus text format, for observability's GET /metrics.

Every sample metric becomes `breakfix_<metric>` with the labels `service` plus the sample's
own; metrics named `*_total` are counters, everything else a gauge. Only the newest point of
each series is exposed, and a series whose newest point is older than `max_age_s` is left
out, so a service or a label value that stopped reporting disappears instead of repeating
its last value.
"""

import re
import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from observability.model import Sample
from observability.store.ring import RingStore

PREFIX = "breakfix_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(metric: str) -> str:
    """`breakfix_<metric>`, with characters Prometheus refuses replaced by `_`."""
    return PREFIX + _INVALID.sub("_", metric)


def _labels(sample: Sample) -> dict[str, str]:
    labels = {"service": sample.service}
    for name, value in sample.labels:
        clean = _INVALID.sub("_", name)
        if clean and not clean[0].isdigit() and not clean.startswith("__"):
            labels.setdefault(clean, value)  # `service` is the sample's own, never overridden
    return labels


class StoreCollector(Collector):
    """A prometheus_client collector over a `RingStore`'s latest samples."""

    def __init__(self, store: RingStore, *, max_age_s: float | None = 60.0) -> None:
        self.store, self.max_age_s = store, max_age_s

    def collect(self, now: float | None = None) -> Iterator[Metric]:
        """One metric family per metric name, each series' newest sample in it."""
        now = time.time() if now is None else now
        families: dict[str, Metric] = {}
        samples = sorted(self.store.latest(), key=lambda s: (s.metric, s.service, s.labels))
        for sample in samples:
            if self.max_age_s is not None and now - sample.ts > self.max_age_s:
                continue
            name = metric_name(sample.metric)
            family = families.get(name)
            if family is None:
                if name.endswith("_total"):
                    family = Metric(name.removesuffix("_total"), f"{sample.metric}", "counter")
                else:
                    family = Metric(name, f"{sample.metric}", "gauge")
                families[name] = family
            family.add_sample(name, _labels(sample), sample.value)
        yield from families.values()


def render(store: RingStore, *, max_age_s: float | None = 60.0) -> bytes:
    """The exposition of `store` on a fresh registry (nothing global is touched)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, max_age_s=max_age_s))
    return generate_latest(registry)
