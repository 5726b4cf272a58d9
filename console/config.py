"""Console settings (env prefix CONSOLE_), read once and validated before start-up."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lab.settings_loading import load_with_env_file
from lab.settings_types import PostgresUrl


class Settings(BaseSettings):
    """Where the console listens, what it reads and the credentials it holds server-side."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    log_level: str = "INFO"
    ops_db_url: PostgresUrl
    state_dir: Path = Path(".breakfix")  # the supervisor's control URL and token are there
    # login: one token per role (lab secrets, 0600); a session lasts session_ttl_s
    operator_token_file: Path
    viewer_token_file: Path
    session_ttl_s: float = Field(8 * 3600.0, gt=0)
    chaos_url: str = "http://127.0.0.1:8001"
    chaos_key_file: Path  # the chaos key: sent server-side only
    agent_url: str = "http://127.0.0.1:8002"
    # the agent's approvers file; the console answers approvals as `approver_name`
    approvers_file: Path | None = None
    approver_name: str = "console"
    observability_url: str = "http://127.0.0.1:9100"
    http_timeout_s: float = Field(5.0, gt=0)  # reads
    action_timeout_s: float = Field(120.0, gt=0)  # a break, kill or scenario run
    page_size: int = Field(25, ge=5, le=200)


@lru_cache
def get_settings() -> Settings:
    """The console's settings from the environment and CONSOLE_ENV_FILE."""
    return load_with_env_file(Settings, "CONSOLE_ENV_FILE")
