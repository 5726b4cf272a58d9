"""Prometheus metrics of the chaos server, on a registry of its own."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ChaosMetrics:
    """Injections, reverts, refusals, injection latency, open faults and the latch."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.injections = Counter(
            "breakfix_chaos_injections_total",
            "Fault injections by fault and outcome.",
            ["fault", "outcome"],
            registry=self.registry,
        )
        self.reverts = Counter(
            "breakfix_chaos_reverts_total",
            "Fault reverts by fault, reason and outcome.",
            ["fault", "reason", "outcome"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "breakfix_chaos_refusals_total",
            "Refused break requests by error code.",
            ["code"],
            registry=self.registry,
        )
        self.inject_seconds = Histogram(
            "breakfix_chaos_inject_duration_seconds",
            "Wall time of an injection, ledger writes included.",
            ["fault"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.open_faults = Gauge(
            "breakfix_chaos_open_faults",
            "Faults intended, active or reverting, as of the last watchdog sweep.",
            registry=self.registry,
        )
        self.kill_engaged = Gauge(
            "breakfix_chaos_kill_switch_engaged",
            "1 while the kill switch latch is engaged.",
            registry=self.registry,
        )
        self.sweep_failures = Counter(
            "breakfix_chaos_watchdog_failures_total",
            "Watchdog sweeps that failed (ops-db unreachable, ...).",
            registry=self.registry,
        )
