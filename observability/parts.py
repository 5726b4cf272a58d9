"""The parts one observability app works with, built once; routes read them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from observability.config import Settings
from observability.store.ops_writer import OpsWriter
from observability.store.ring import RingStore


@dataclass
class ObservabilityParts:
    """Settings, the recent window, the ops-db writer and hooks into runner and detector."""

    settings: Settings
    ring: RingStore
    writer: OpsWriter | None = None
    collector_status: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    alerts: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    exposition: Callable[[], str] = field(default=lambda: "")
