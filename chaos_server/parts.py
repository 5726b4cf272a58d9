"""The parts one chaos server app works with, built once from its settings."""

from dataclasses import dataclass

from chaos_server.config import Settings
from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault
from chaos_server.metrics import ChaosMetrics
from chaos_server.store import Store
from chaos_server.store.lease import Lease


@dataclass
class ChaosParts:
    """Settings, the chaos key, ops-db, this process's lease, the catalogue and the lab."""

    settings: Settings
    key: str
    store: Store
    lease: Lease
    catalogue: dict[str, Fault]
    metrics: ChaosMetrics
    ctx: ChaosContext
