"""Observability settings (env prefix OBS_), read once and validated before start-up."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lab.runtime.select import RuntimeKind
from lab.settings_loading import load_with_env_file
from lab.settings_types import PostgresUrl

PACKAGE = Path(__file__).resolve().parent
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Settings(BaseSettings):
    """Where observability listens, how often it samples, what it keeps, whom it alerts."""

    model_config = SettingsConfigDict(env_prefix="OBS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(9100, ge=1, le=65535)
    ops_db_url: PostgresUrl
    runtime: RuntimeKind = "local"
    docker_project: str | None = None
    kubernetes_namespace: str = "breakfix"
    interval_s: float = Field(1.0, ge=0.1, le=60)  # collection and evaluation period
    window_s: float = Field(900.0, ge=10)  # the in-memory recent window
    downsample_s: float = Field(60.0, ge=1)  # bucket of the samples kept in ops-db
    retention_h: float = Field(24.0, gt=0)  # ops-db rows older than this are deleted
    rules_file: Path = PACKAGE / "rules.yaml"
    signatures_file: Path = PACKAGE / "signatures.yaml"
    receivers: list[str] = []  # Alertmanager-format webhook receivers (the agent's intake)
    receiver_token_file: Path | None = None  # sent as a bearer token when set
    # A firing alert is sent again this often (0: once per episode), so a receiver that
    # expires firing alerts not refreshed (the agent, like Alertmanager) keeps them firing.
    repeat_interval_s: float = Field(60.0, ge=0)
    # the optional Supabase sink: on when both are set; the key is read from the file
    supabase_url: str | None = None
    supabase_key_file: Path | None = None
    supabase_alerts_table: str = Field("breakfix_alerts", pattern=IDENTIFIER)
    supabase_events_table: str = Field("breakfix_events", pattern=IDENTIFIER)
    log_level: str = "INFO"

    @field_validator("receivers")
    @classmethod
    def _loopback_http(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"receiver {url!r} is not an http(s) URL")
        return value

    @field_validator("supabase_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None  # an empty OBS_SUPABASE_URL= line leaves the sink off
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _supabase_both_or_neither(self) -> "Settings":
        if (self.supabase_url is None) != (self.supabase_key_file is None):
            raise ValueError("set both OBS_SUPABASE_URL and OBS_SUPABASE_KEY_FILE, or neither")
        return self


@lru_cache
def get_settings() -> Settings:
    """The settings, from the environment and the file named by OBS_ENV_FILE."""
    return load_with_env_file(Settings, "OBS_ENV_FILE")
