"""Target API settings (env prefix TARGET_), read once and validated before start-up."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lab.settings_loading import ConfigurationError, load_with_env_file

ENV_PREFIX = "TARGET_"
ENV_FILE_VAR = "TARGET_ENV_FILE"
PLACEHOLDER = "change-me"


class Environment(StrEnum):
    """Where the target runs; placeholders are tolerated in development only."""

    development = "development"
    lab = "lab"
    production = "production"


class PricingRoute(StrEnum):
    """Which pricing upstream the target calls."""

    primary = "primary"
    fallback = "fallback"


class Settings(BaseSettings):
    """Everything the target API needs; `environment` is declared first so validators see it."""

    # validate_by_name: `otlp_endpoint=` works as a keyword although its env names are aliases
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_by_name=True)

    environment: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: str = Field("INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")

    database_url: SecretStr
    db_pool_size: int = Field(5, ge=1)
    db_max_overflow: int = Field(5, ge=0)
    db_pool_timeout_s: float = Field(5.0, gt=0)
    db_pool_pre_ping: bool = True
    db_application_name: str = Field("breakfix-target", min_length=1, max_length=63)
    db_statement_timeout_ms: int = Field(5000, ge=0)

    cache_dir: Path
    cache_max_bytes: int = Field(10 * 1024 * 1024, ge=0)
    cache_ttl_s: float = Field(30.0, ge=0)

    hosts_file: Path | None = None
    pricing_primary_url: str = "http://pricing-primary.breakfix.lab:8010"
    pricing_fallback_url: str = "http://pricing-fallback.breakfix.lab:8011"
    pricing_route: PricingRoute = PricingRoute.primary
    pricing_timeout_s: float = Field(2.0, gt=0)

    # the token the chaos server's `/_faults/*` calls carry; hooks are disabled without one
    fault_hooks_token_file: Path | None = None

    # traces (target_server.tracing): marks of slow and failed requests, optional OTLP export
    trace_marks_file: Path | None = None
    trace_marks_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    slow_trace_s: float = Field(1.0, gt=0)
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("TARGET_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )

    @field_validator("database_url")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        environment = info.data.get("environment", Environment.development)
        if PLACEHOLDER in value.get_secret_value() and environment != Environment.development:
            raise ValueError(f"placeholder '{PLACEHOLDER}' is refused in {environment}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr) -> SecretStr:
        # Messages name the problem only: make_url's own text can echo the whole URL.
        try:
            url = make_url(value.get_secret_value())
        except (ArgumentError, ValueError):
            raise ValueError("not a valid SQLAlchemy URL (check the scheme and port)") from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"needs a postgresql driver, not '{url.drivername}'")
        try:
            url.get_dialect().import_dbapi()
        except (ArgumentError, ImportError):
            raise ValueError(
                f"no usable driver for '{url.drivername}' (try postgresql+psycopg2)"
            ) from None
        return value

    @field_validator("pricing_primary_url", "pricing_fallback_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def pricing_url(self) -> str:
        """The base URL of the currently selected pricing route."""
        if self.pricing_route == PricingRoute.fallback:
            return self.pricing_fallback_url
        return self.pricing_primary_url


def load_settings() -> Settings:
    """Build settings from the process env and, when TARGET_ENV_FILE is set, that file."""
    return load_with_env_file(Settings, ENV_FILE_VAR)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()


__all__ = ["ConfigurationError", "Settings", "get_settings", "load_settings"]
