"""Lab-wide settings: state dir, ports and supervisor timings (env prefix BREAKFIX_)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = int


class LabSettings(BaseSettings):
    """Where the lab keeps its state and which loopback ports its services use."""

    model_config = SettingsConfigDict(env_prefix="BREAKFIX_", env_file=".env", extra="ignore")

    state_dir: Path = Path(".breakfix")
    pg_bin: Path | None = None
    host: str = "127.0.0.1"
    target_port: Port = Field(8000, ge=1, le=65535)
    upstream_primary_port: Port = Field(8010, ge=1, le=65535)
    upstream_fallback_port: Port = Field(8011, ge=1, le=65535)
    target_db_port: Port = Field(5433, ge=1, le=65535)
    ops_db_port: Port = Field(5434, ge=1, le=65535)
    control_port: Port = Field(8099, ge=1, le=65535)
    action_port: Port = Field(9000, ge=1, le=65535)
    db_proxy_port: Port = Field(6433, ge=1, le=65535)  # the target's primary DB route
    db_proxy_fallback_port: Port = Field(6434, ge=1, le=65535)  # its fallback DB route
    db_proxy_admin_port: Port = Field(6435, ge=1, le=65535)  # toxics API (hooks token)
    chaos_port: Port = Field(8001, ge=1, le=65535)
    observability_port: Port = Field(9100, ge=1, le=65535)
    # Observability samples every service each second (a synthetic order included); tests of
    # other parts turn it off so it cannot disturb what they measure.
    observability_enabled: bool = True
    agent_port: Port = Field(8002, ge=1, le=65535)
    # The agent reads what observability sees and is fed its alerts: it runs only with it.
    agent_enabled: bool = True
    console_port: Port = Field(8080, ge=1, le=65535)  # the web console (package console)
    console_enabled: bool = True
    target_db_max_connections: int = Field(100, ge=10)
    cache_tmpfs: bool = True  # the target's cache dir on a size-limited tmpfs (root only)
    health_timeout_s: float = Field(60.0, gt=0)
    stop_timeout_s: float = Field(20.0, gt=0)
    restart_backoff_s: float = Field(1.0, ge=0)
    poll_interval_s: float = Field(0.25, gt=0)


def agent_runs(settings: LabSettings) -> bool:
    """Whether the lab runs the agent (enabled, and observability running to feed it)."""
    return settings.agent_enabled and settings.observability_enabled


def as_environment(settings: LabSettings) -> dict[str, str]:
    """The BREAKFIX_* variables that describe `settings`, for the lab's own child services."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"BREAKFIX_{name.upper()}"] = str(value)
    return env


@lru_cache
def get_settings() -> LabSettings:
    """Return the lab settings, read once from the environment and `.env`."""
    return LabSettings()
