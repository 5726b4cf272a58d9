"""Prometheus metrics of the action server, on a registry of its own."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class ActionMetrics:
    """Requests by action and outcome, action duration, audit failures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "breakfix_action_runs_total",
            "Action runs by action, status and dry run.",
            ["action", "status", "dry_run"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "breakfix_action_refusals_total",
            "Refused action requests by error code.",
            ["code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "breakfix_action_duration_seconds",
            "Wall time of action runs.",
            ["action"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
