"""What every fault gets to work with: the runtime backend, the lab's layout and target-db."""

from dataclasses import dataclass
from pathlib import Path

from chaos_server.config import Settings
from lab.config import LabSettings
from lab.hooks_token import HOOKS_HEADER
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.base import Runtime
from lab.runtime.select import runtime_for
from lab.secrets import read_secret
from lab.services import HOOKS_TOKEN, clusters, endpoints


@dataclass
class ChaosContext:
    """The lab as a fault sees it."""

    runtime: Runtime
    paths: StatePaths
    target_db: Cluster  # admin (superuser) access over the cluster's Unix socket
    target_url: str  # base URL of the target API
    lab: LabSettings  # ports and host of every lab service
    hooks_token_file: Path  # the token the victims' fault hooks accept
    ready_timeout_s: float = 60.0

    def hook_headers(self) -> dict[str, str]:
        """Headers for a call to a victim's fault hook (target, stubs, db-proxy admin)."""
        return {HOOKS_HEADER: read_secret(self.hooks_token_file)}


def build_context(
    settings: Settings, lab: LabSettings, runtime: Runtime | None = None
) -> ChaosContext:
    """The lab as faults see it; the lab's layout comes from BREAKFIX_* settings."""
    paths = StatePaths.at(lab.state_dir)
    return ChaosContext(
        runtime=runtime or runtime_for(settings, paths),
        paths=paths,
        target_db=clusters(lab, paths)["target-db"],
        target_url=endpoints(lab)["target"].url,
        lab=lab,
        hooks_token_file=settings.hooks_token_file or paths.secret(HOOKS_TOKEN),
        ready_timeout_s=settings.ready_timeout_s,
    )
