"""The parts one action server app works with, built from its settings."""

import logging
from dataclasses import dataclass, field, replace

from action_server.catalogue import ActionSpec
from action_server.config import Settings
from action_server.context import ActionContext
from action_server.metrics import ActionMetrics
from action_server.ratelimit import RateLimits
from action_server.store import Store
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.base import Runtime
from lab.runtime.select import runtime_for
from lab.secrets import read_secret
from lab.services import clusters, endpoints

log = logging.getLogger("action_server")


@dataclass
class ActionParts:
    """Settings, ops-db store, the catalogue, limits, metrics and the lab context."""

    settings: Settings
    store: Store
    catalogue: dict[str, ActionSpec]
    limits: RateLimits
    metrics: ActionMetrics
    ctx: ActionContext
    background: list[object] = field(default_factory=list)


def target_db_admin(settings: Settings, cluster: Cluster) -> Cluster:
    """target-db as the actions administer it: over the trusted socket, or over TCP with the
    superuser's password when the settings name its file."""
    if settings.target_db_admin_password_file is None:
        return cluster
    return replace(cluster, admin_password=read_secret(settings.target_db_admin_password_file))


def build_context(
    settings: Settings, lab: LabSettings, runtime: Runtime | None = None
) -> ActionContext:
    """The lab as actions see it; the lab's layout comes from BREAKFIX_* settings."""
    paths = StatePaths.at(lab.state_dir)
    webhooks = {
        name: secret.get_secret_value()
        for name, secret in (
            ("slack", settings.slack_webhook_url),
            ("discord", settings.discord_webhook_url),
        )
        if secret is not None
    }
    return ActionContext(
        runtime=runtime or runtime_for(settings, paths),
        paths=paths,
        target_db=target_db_admin(settings, clusters(lab, paths)["target-db"]),
        target_url=endpoints(lab)["target"].url,
        ready_timeout_s=settings.ready_timeout_s,
        webhooks=webhooks,
        db_route_ports={"primary": lab.db_proxy_port, "fallback": lab.db_proxy_fallback_port},
        backend=settings.runtime,
    )
