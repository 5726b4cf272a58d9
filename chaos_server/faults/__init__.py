"""The fault catalogue: one instance per app, since some faults hold live resources."""

from chaos_server.faults.api_hooks import ApiCpuHog, ApiErrorStorm, ApiLatency, ApiMemoryLeak
from chaos_server.faults.base import Fault
from chaos_server.faults.cache_corruption import CacheCorruption
from chaos_server.faults.config_drift import ConfigDrift
from chaos_server.faults.control import Noop
from chaos_server.faults.db_auth import DbAuthFailure
from chaos_server.faults.db_data import DbDataLoss
from chaos_server.faults.db_down import DbDown
from chaos_server.faults.db_lock import DbLock
from chaos_server.faults.db_pool import DbPoolExhaustion
from chaos_server.faults.db_schema import SchemaDrift
from chaos_server.faults.disk import DiskFill
from chaos_server.faults.network import NetDbLatency, NetDbPartition
from chaos_server.faults.process import ApiCrash, ApiHang
from chaos_server.faults.upstream import UpstreamDns, UpstreamOutage


def build_catalogue() -> dict[str, Fault]:
    """Every implemented fault by id."""
    faults: list[Fault] = [
        ApiCpuHog(),
        ApiCrash(),
        ApiErrorStorm(),
        ApiHang(),
        ApiLatency(),
        ApiMemoryLeak(),
        CacheCorruption(),
        ConfigDrift(),
        DbAuthFailure(),
        DbDataLoss(),
        DbDown(),
        DbLock(),
        DbPoolExhaustion(),
        DiskFill(),
        NetDbLatency(),
        NetDbPartition(),
        Noop(),
        SchemaDrift(),
        UpstreamDns(),
        UpstreamOutage(),
    ]
    return {fault.id: fault for fault in faults}
