"""Action server settings (env prefix ACTION_), read once and validated before start-up."""

from functools import lru_cache

from pydantic import Field, FilePath, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lab.runtime.select import RuntimeKind
from lab.settings_loading import load_with_env_file
from lab.settings_types import PostgresUrl

RATE = r"^\d+\s*/\s*(second|minute|hour|day)s?$"


class Settings(BaseSettings):
    """Where the action server listens, what it may touch and how hard it may be pushed."""

    model_config = SettingsConfigDict(env_prefix="ACTION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(9000, ge=1, le=65535)
    ops_db_url: PostgresUrl
    runtime: RuntimeKind = "local"
    docker_project: str | None = None
    kubernetes_namespace: str = "breakfix"
    # target-db's superuser password (a file): admin connections, pg_dump and pg_restore go
    # over TCP instead of the data dir's Unix socket (Compose: no data volume here)
    target_db_admin_password_file: FilePath | None = None
    rate_read: str = Field("300/minute", pattern=RATE)
    rate_dry_run: str = Field("120/minute", pattern=RATE)
    rate_low: str = Field("60/minute", pattern=RATE)
    rate_medium: str = Field("20/minute", pattern=RATE)
    rate_high: str = Field("5/minute", pattern=RATE)
    lock_wait_s: float = Field(30.0, ge=0)
    idempotency_wait_s: float = Field(120.0, ge=0)
    ready_timeout_s: float = Field(60.0, gt=0)
    snapshot_interval_s: float = Field(900.0, ge=0)
    snapshot_keep: int = Field(24, ge=1)
    snapshot_lock_timeout_s: float = Field(5.0, gt=0)
    snapshot_statement_timeout_s: float = Field(120.0, gt=0)
    snapshot_retry_s: float = Field(60.0, gt=0)
    snapshot_retries: int = Field(5, ge=0)
    known_good_interval_s: float = Field(5.0, gt=0)
    slack_webhook_url: SecretStr | None = None
    discord_webhook_url: SecretStr | None = None
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    """The settings, from the environment and the file named by ACTION_ENV_FILE."""
    return load_with_env_file(Settings, "ACTION_ENV_FILE")
