"""The collectors of a lab: every source wired to the lab's settings, paths and runtime."""

from pathlib import Path

from lab.config import LabSettings
from lab.paths import StatePaths
from lab.runtime.base import Runtime
from lab.services import APP_DB, clusters, endpoints
from observability.collectors.host import HostCollector
from observability.collectors.logs import LogCollector
from observability.collectors.postgres import PostgresCollector
from observability.collectors.probes import HealthProbeCollector, lab_probes
from observability.collectors.runtime_stats import RuntimeStatsCollector
from observability.collectors.signatures import load_catalogue
from observability.collectors.synthetic import SyntheticTransaction
from observability.collectors.target_metrics import TargetMetricsCollector
from observability.collectors.traces import TraceCollector
from observability.model import Collector


def traces_file(paths: StatePaths) -> Path:
    """Where the target writes its slow and failed trace ids."""
    return paths.root / "traces" / "target.jsonl"


def lab_collectors(
    *,
    settings: LabSettings,
    paths: StatePaths,
    runtime: Runtime,
    catalogue: Path | None = None,
    probe_timeout_s: float = 0.7,
) -> list[Collector]:
    """runtime, probes, synthetic, target_metrics, postgres, host, logs and traces.

    `probe_timeout_s` bounds every HTTP call made within a tick; keep it below the runner's
    timeout. Nothing connects here: each collector connects on its first run.
    """
    from target_server.migrations import head_revision

    ends, dbs = endpoints(settings), clusters(settings, paths)
    if not settings.observability_enabled:
        ends.pop("observability", None)  # the lab does not run it: nothing to sample
    target = ends["target"].url
    return [
        RuntimeStatsCollector(runtime=runtime, services=list(ends)),
        HealthProbeCollector(
            lab_probes(ends, dbs, app_env=paths.target_env), timeout_s=probe_timeout_s
        ),
        SyntheticTransaction(base_url=target, wait_s=min(0.5, probe_timeout_s)),
        TargetMetricsCollector(url=f"{target}/metrics", timeout_s=probe_timeout_s),
        PostgresCollector(cluster=dbs["target-db"], dbname=APP_DB, head_revision=head_revision()),
        HostCollector(cache_dir=paths.target_cache),
        LogCollector(logs_dir=paths.logs, catalogue=load_catalogue(catalogue)),
        TraceCollector(path=traces_file(paths)),
    ]


def close_collectors(collectors: list[Collector]) -> None:
    """Release what collectors hold open (HTTP clients, DB connections, log files)."""
    for collector in collectors:
        close = getattr(collector, "close", None)
        if callable(close):
            close()
