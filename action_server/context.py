"""What every action gets to work with, and what it hands back."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.envfile import read_env
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.base import Runtime


@dataclass
class ActionContext:
    """The lab as an action sees it: runtime backend, state dir, target-db admin access."""

    runtime: Runtime
    paths: StatePaths
    target_db: Cluster  # admin (superuser) access over the cluster's Unix socket
    target_url: str  # base URL of the target API, e.g. http://127.0.0.1:8000
    ready_timeout_s: float = 60.0
    webhooks: dict[str, str] = field(default_factory=dict)  # receiver name -> URL (secret)
    db_route_ports: dict[str, int] = field(default_factory=dict)  # primary: db-proxy, fallback
    backend: str = "local"  # the runtime backend's name

    @property
    def snapshots_dir(self) -> Path:
        """Where snapshot-db writes its dumps and manifests."""
        return self.paths.root / "snapshots"

    @property
    def children_dir(self) -> Path:
        """Where the client tools actions run are written down while they run (lab.tied)."""
        return self.paths.run / "action-children"

    def target_env(self) -> dict[str, str]:
        """The target's env file as it is now."""
        return read_env(self.paths.target_env)

    def app_database_url(self) -> str:
        """The SQLAlchemy URL the target uses (carries the app password: never log it)."""
        return self.target_env()["TARGET_DATABASE_URL"]


@dataclass
class Plan:
    """What an action would do: the answer of a dry run, and the first step of a real one."""

    summary: str
    changes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an action did and how it checked it; `undo` is what its undo needs later."""

    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    undo: dict[str, Any] | None = None
    verified: bool = True


class ActionFailed(Exception):
    """The action acted but its postcondition does not hold; `undo` says what to revert."""

    def __init__(self, message: str, *, undo: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.undo = undo


class PreconditionFailed(Exception):
    """The action must not run now; nothing was changed."""


class Unsupported(PreconditionFailed):
    """The runtime backend cannot do this at all (answered 409 `not_supported`)."""
