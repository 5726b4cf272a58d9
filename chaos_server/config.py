"""Chaos server settings (env prefix CHAOS_), read once and validated before start-up."""

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chaos_server.scenarios.model import Probe, StopConditions, describe
from lab.runtime.select import RuntimeKind
from lab.settings_loading import load_with_env_file
from lab.settings_types import PostgresUrl

# On by default: the monkey's fault is reverted early when the user journey is down for a
# minute (or 90% of it fails over a minute), or a service it did not target turns unhealthy.
MONKEY_STOP_CONDITIONS = StopConditions(
    journey=[Probe(service="target", path="/products", max_latency_ms=None)],
    window_s=60.0,
    error_ratio=0.9,
    max_outage_s=60.0,
    unhealthy_services="any_other",
)


class Settings(BaseSettings):
    """Where the chaos server listens, which key it accepts and its blast radius."""

    model_config = SettingsConfigDict(env_prefix="CHAOS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)
    ops_db_url: PostgresUrl
    key_file: Path  # holds the chaos key; chaos clients alone read it
    # the token the victims' fault hooks accept; the lab's secret file when unset
    hooks_token_file: Path | None = None
    runtime: RuntimeKind = "local"
    docker_project: str | None = None
    kubernetes_namespace: str = "breakfix"
    allowlist: list[str] = [
        "target",
        "target-db",
        "db-proxy",
        "upstream-primary",
        "upstream-fallback",
    ]
    default_ttl_s: float = Field(300.0, gt=0)
    max_ttl_s: float = Field(1800.0, gt=0)
    max_concurrent: int = Field(3, ge=0)
    max_per_target: int = Field(1, ge=0)
    # "<fault>.<param>" -> maximum, overriding a fault's own default maximum
    max_intensity: dict[str, float] = {}
    watchdog_interval_s: float = Field(1.0, gt=0)
    ready_timeout_s: float = Field(60.0, gt=0)
    log_level: str = "INFO"
    # Scenarios: the files in scenario_dir are listed; with the scheduler enabled, those with a
    # cron `schedule` run by themselves (off by default: nothing breaks unless asked to).
    scenario_dir: Path | None = None
    scheduler_enabled: bool = False
    # Chaos monkey, off by default and opt-in per target: random faults from monkey_faults on
    # monkey_targets at random intervals, only inside the hours and days given (monkey_timezone).
    monkey_enabled: bool = False
    monkey_faults: list[str] = ["api-latency", "api-error-storm", "db-lock", "upstream-outage"]
    monkey_targets: list[str] = []
    monkey_hours: str = Field("09:00-17:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    monkey_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    ]
    monkey_timezone: str = "UTC"
    monkey_min_interval_s: float = Field(300.0, gt=0)
    monkey_max_interval_s: float = Field(1800.0, gt=0)
    monkey_min_gap_s: float = Field(600.0, ge=0)  # between two monkey injections
    monkey_ttl_s: float = Field(120.0, gt=0)
    monkey_seed: int | None = None
    monkey_stop_conditions_enabled: bool = True
    monkey_stop_conditions: StopConditions = MONKEY_STOP_CONDITIONS  # JSON, a scenario's format

    @field_validator("monkey_stop_conditions", mode="before")
    @classmethod
    def _stop_conditions(cls, value: Any) -> Any:
        if isinstance(value, dict):  # every problem named by its field, not only the setting
            try:
                return StopConditions.model_validate(value)
            except ValidationError as exc:
                raise ValueError(describe(exc, "monkey_stop_conditions")) from None
        return value

    @model_validator(mode="after")
    def _ttls(self) -> "Settings":
        if self.default_ttl_s > self.max_ttl_s:
            raise ValueError("default_ttl_s must not exceed max_ttl_s")
        if self.monkey_min_interval_s > self.monkey_max_interval_s:
            raise ValueError("monkey_min_interval_s must not exceed monkey_max_interval_s")
        if self.monkey_ttl_s > self.max_ttl_s:
            raise ValueError("monkey_ttl_s must not exceed max_ttl_s")
        return self


@lru_cache
def get_settings() -> Settings:
    """The settings, from the environment and the file named by CHAOS_ENV_FILE."""
    return load_with_env_file(Settings, "CHAOS_ENV_FILE")
