"""Prometheus metrics of the agent, on a registry of its own.

Intake counters are counted as requests arrive; incidents by state and actions come from
ops-db at scrape time (a collector), so they survive restarts; a failed read is counted.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class StoreCollector(Collector):
    """Incidents by state and actions by action and status, read from ops-db."""

    def __init__(
        self,
        *,
        states: Callable[[], dict[str, int]],
        actions: Callable[[], dict[tuple[str, str], int]],
        failures: Counter,
    ) -> None:
        self._states, self._actions, self._failures = states, actions, failures

    def collect(self) -> Iterator[Metric]:
        try:
            by_state, by_action = self._states(), self._actions()
        except Exception:  # a scrape must not fail because ops-db is down
            self._failures.inc()
            return
        incidents = GaugeMetricFamily(
            "breakfix_agent_incidents", "Incidents by state.", labels=["state"]
        )
        for state, n in sorted(by_state.items()):
            incidents.add_metric([state], n)
        yield incidents
        actions = CounterMetricFamily(
            "breakfix_agent_actions",
            "Actions recorded by action and status.",
            labels=["action", "status"],
        )
        for (action, status), n in sorted(by_action.items()):
            actions.add_metric([action, status], n)
        yield actions


class AgentMetrics:
    """Alerts received and deduplicated, incidents opened, pipeline step durations."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter(
            "breakfix_agent_alerts_received",
            "Alerts received by source.",
            ["source"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "breakfix_agent_alert_duplicates",
            "Alerts received again (same fingerprint and startsAt).",
            registry=self.registry,
        )
        self.resolved = Counter(
            "breakfix_agent_alerts_resolved", "Resolved notifications.", registry=self.registry
        )
        self.opened = Counter(
            "breakfix_agent_incidents_opened", "Incidents opened.", registry=self.registry
        )
        self.ignored = Counter(
            "breakfix_agent_alerts_ignored",
            "Alerts about services outside AGENT_WATCH_SERVICES (the lab's control plane).",
            registry=self.registry,
        )
        self.silenced = Counter(
            "breakfix_agent_alerts_silenced",
            "Firing alerts received during a silence (maintenance window).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "breakfix_agent_intake_rejected",
            "Intake requests refused, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.step_duration = Histogram(
            "breakfix_agent_step_duration_seconds",
            "Wall time of pipeline steps.",
            ["step"],
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.store_read_failures = Counter(
            "breakfix_agent_store_read_failures",
            "ops-db reads for /metrics that failed.",
            registry=self.registry,
        )

    def watch_store(
        self,
        *,
        states: Callable[[], dict[str, int]],
        actions: Callable[[], dict[tuple[str, str], int]],
    ) -> None:
        """Report incidents by state and actions from ops-db at every scrape."""
        self.registry.register(
            StoreCollector(states=states, actions=actions, failures=self.store_read_failures)
        )

    def observe_step(self, step: str, seconds: float) -> None:
        """Record how long a pipeline step took (the pipeline calls this)."""
        self.step_duration.labels(step=step).observe(seconds)
