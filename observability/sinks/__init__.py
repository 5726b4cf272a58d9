"""Optional sinks that mirror what observability sees to stores outside the lab.

A sink is handed alert transitions by the pipeline and delivers them from its own thread;
it never blocks a tick and never raises into it.
"""

from typing import Any, Protocol

from observability.model import Sample


class AlertSink(Protocol):
    """Where the pipeline hands alert transitions (firing/resolved records)."""

    def send_alerts(self, records: list[dict[str, Any]]) -> None:
        """Queue the records; returns at once, whatever the far end is doing."""
        ...

    def samples(self, now: float) -> list[Sample]:
        """The sink's delivery counters, as `observability` samples."""
        ...
