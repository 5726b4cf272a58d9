"""What every fault gets to work with: the runtime backend and the lab's target-db."""

from dataclasses import dataclass

from chaos_server.config import Settings
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.base import Runtime
from lab.runtime.select import build_runtime
from lab.services import clusters, endpoints


@dataclass
class ChaosContext:
    """The lab as a fault sees it."""

    runtime: Runtime
    paths: StatePaths
    target_db: Cluster  # admin (superuser) access over the cluster's Unix socket
    target_url: str  # base URL of the target API
    ready_timeout_s: float = 60.0


def build_context(
    settings: Settings, lab: LabSettings, runtime: Runtime | None = None
) -> ChaosContext:
    """The lab as faults see it; the lab's layout comes from BREAKFIX_* settings."""
    paths = StatePaths.at(lab.state_dir)
    return ChaosContext(
        runtime=runtime
        or build_runtime(settings.runtime, paths=paths, docker_project=settings.docker_project),
        paths=paths,
        target_db=clusters(lab, paths)["target-db"],
        target_url=endpoints(lab)["target"].url,
        ready_timeout_s=settings.ready_timeout_s,
    )
