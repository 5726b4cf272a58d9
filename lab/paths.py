"""The layout of the lab's state directory."""

from dataclasses import dataclass
from pathlib import Path

# The example scenarios shipped in the repository (an editable install runs from it).
SHIPPED_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@dataclass(frozen=True)
class StatePaths:
    """Every file and directory the lab keeps under its state dir."""

    root: Path

    @classmethod
    def at(cls, state_dir: Path) -> "StatePaths":
        """Anchor the layout at an absolute state dir."""
        return cls(state_dir.expanduser().resolve())

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, service: str) -> Path:
        """The file a service's stdout and stderr go to."""
        return self.logs / f"{service}.log"

    @property
    def pg(self) -> Path:
        """Where the Postgres data dirs live (see `lab.postgres.pg_home` for the root case)."""
        return self.root / "pg"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def secret(self, name: str) -> Path:
        return self.secrets / name

    @property
    def env(self) -> Path:
        return self.root / "env"

    @property
    def target_env(self) -> Path:
        """The target's env file: its configuration, owned by the lab and the action server."""
        return self.env / "target.env"

    @property
    def action_env(self) -> Path:
        """The action server's env file (its ops-db credentials)."""
        return self.env / "action.env"

    @property
    def chaos_env(self) -> Path:
        """The chaos server's env file (its ops-db credentials and key file)."""
        return self.env / "chaos.env"

    @property
    def observability_env(self) -> Path:
        """Observability's env file (its ops-db credentials and receivers)."""
        return self.env / "observability.env"

    @property
    def agent_env(self) -> Path:
        """The agent's env file (ops-db credentials, intake token and act key files)."""
        return self.env / "agent.env"

    @property
    def knowledge(self) -> Path:
        """The agent's knowledge index and postmortems."""
        return self.root / "knowledge"

    @property
    def traces(self) -> Path:
        """Where the target writes the trace ids of slow and failed requests."""
        return self.root / "traces"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def supervisor_state(self) -> Path:
        """Written by the running supervisor: pids, ports and the control URL."""
        return self.run / "supervisor.json"

    @property
    def target_cache(self) -> Path:
        return self.root / "cache" / "target"

    @property
    def hosts_file(self) -> Path:
        """The lab-controlled hosts file through which the target resolves its upstreams."""
        return self.root / "hosts"
