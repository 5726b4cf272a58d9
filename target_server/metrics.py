"""Prometheus metrics on a registry owned by one app; pool and cache gauges read at scrape."""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from target_server.cache import PriceCache

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0)


class Metrics:
    """The counters and histograms the app updates as it serves."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http_requests = Counter(
            "breakfix_http_requests_total",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "breakfix_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_requests = Counter(
            "breakfix_upstream_requests_total",
            "Calls to upstream dependencies, by route (primary/fallback) and outcome.",
            ["dependency", "route", "outcome"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "breakfix_upstream_errors_total",
            "Failed calls to upstream dependencies.",
            ["dependency", "route"],
            registry=registry,
        )

    def record_upstream(self, *, dependency: str, route: str, outcome: str) -> None:
        """Count one upstream call; anything but `success` is also an error."""
        self.upstream_requests.labels(dependency, route, outcome).inc()
        if outcome != "success":
            self.upstream_errors.labels(dependency, route).inc()


class ScrapeCollector(Collector):
    """Pool and cache gauges computed when Prometheus scrapes, from the live objects."""

    def __init__(self, *, engine: Engine, cache: PriceCache) -> None:
        self.engine = engine
        self.cache = cache
        self.failures = 0

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Yield the pool and cache gauges plus the count of failed collections."""
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            # overflow() starts at -pool_size; only positive values are extra connections.
            yield _gauge(
                "breakfix_db_pool_connections_in_use", "Connections checked out.", pool.checkedout()
            )
            yield _gauge(
                "breakfix_db_pool_overflow_connections",
                "Connections beyond the pool.",
                max(0, pool.overflow()),
            )
            yield _gauge("breakfix_db_pool_size_connections", "Configured pool size.", pool.size())
        try:
            yield _gauge(
                "breakfix_cache_size_bytes",
                "Bytes in the cache directory.",
                self.cache.size_bytes(),
            )
        except OSError:
            self.failures += 1
        failures = CounterMetricFamily(
            "breakfix_metrics_collection_errors",
            "Scrape-time collections that failed.",
        )
        failures.add_metric([], self.failures)
        yield failures


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def build_metrics(*, engine: Engine, cache: PriceCache) -> Metrics:
    """A fresh registry with the app's metrics and the scrape-time collector."""
    registry = CollectorRegistry()
    registry.register(ScrapeCollector(engine=engine, cache=cache))
    return Metrics(registry)
