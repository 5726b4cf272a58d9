"""Agent settings (env prefix AGENT_), read once and validated before start-up."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.model import HIGH_RISK_ACTIONS
from lab.settings_loading import load_with_env_file
from lab.settings_types import PostgresUrl


class Settings(BaseSettings):
    """Where the agent listens, what it reads and acts through, and the policy it obeys."""

    model_config = SettingsConfigDict(env_prefix="AGENT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8002, ge=1, le=65535)
    ops_db_url: PostgresUrl
    state_dir: Path = Path(".breakfix")  # knowledge index and postmortems live under it
    # The services whose alerts the agent takes on: the lab's victims. Alerts about the lab's
    # own control plane (action, chaos, observability, agent) are counted and left to the
    # operator; an alert without a service label is always taken. [] = every service.
    watch_services: list[str] = [
        "target",
        "target-db",
        "db-proxy",
        "upstream-primary",
        "upstream-fallback",
    ]
    # intake: webhook callers present this token (Bearer or X-Agent-Token); required. It
    # posts alerts and silences, and never answers an approval.
    intake_token_file: Path
    # approvers: `name token` lines (lab.approvers); each token approves or denies as its
    # name, and does nothing else. None: no one can answer, requests time out as denials.
    approvers_file: Path | None = None
    # the action server, with an `act` key (never a chaos key: the agent has none)
    action_url: str = "http://127.0.0.1:9000"
    action_key_file: Path
    observability_url: str = "http://127.0.0.1:9100"
    http_timeout_s: float = Field(10.0, gt=0)  # observability reads
    action_timeout_s: float = Field(180.0, gt=0)  # one action run (restore-db can be slow)

    # modes
    mode: Literal["deterministic", "llm"] = "deterministic"
    dry_run: bool = False  # plan and judge, never act (every step a dry run)
    llm_provider: Literal["openai", "gemini", "ollama"] = "openai"
    llm_base_url: str | None = None  # OpenAI-compatible /v1 base, Gemini or Ollama base
    llm_model: str | None = None
    llm_api_key_file: Path | None = None
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_price_prompt_per_1k: float = Field(0.0, ge=0)  # USD, for the recorded cost
    llm_price_completion_per_1k: float = Field(0.0, ge=0)

    # knowledge
    embedding: Literal["auto", "minilm", "hashing"] = "auto"
    runbook_dir: Path | None = None  # default: the packaged knowledge/runbooks
    retrieval_k: int = Field(5, ge=1, le=20)
    # How an incident's own words (a contract's description, a foreign monitor's alert) are
    # retrieved on: dense + BM25 fused reads unseen wording better (scripts/bench_retrieval.py).
    # The lab's alerts are worded like the runbooks and keep dense retrieval.
    text_retrieval: Literal["dense", "hybrid"] = "hybrid"

    # policy
    approval_required: list[str] = list(HIGH_RISK_ACTIONS)  # [] = no approvals
    approval_timeout_s: float = Field(300.0, gt=0)  # no answer in time: deny and escalate
    # Loop protection: the same action on the same target at most same_action_max times in
    # same_action_window_s (across incidents; 0 = no limit), then escalate with the history.
    same_action_max: int = Field(3, ge=0)
    same_action_window_s: float = Field(600.0, ge=0)
    max_actions_per_incident: int = Field(3, ge=1, le=20)
    min_confidence: float = Field(0.5, ge=0, le=1)
    # An escalated outage still firing takes new alerts of its own kind on its own service
    # for this long (no second page for the same outage; 0: never); anything else opens an
    # incident of its own. A firing alert not refreshed by its endsAt, or alert_expiry_s
    # after its last copy, is resolved (observability re-sends firing alerts every minute).
    handover_s: float = Field(600.0, ge=0)
    alert_expiry_s: float = Field(300.0, gt=0)
    fix_failures_before_escalation: int = Field(2, ge=1)  # "a fix did not hold twice"
    recurrence_window_s: float = Field(900.0, ge=0)  # same fault again soon = fix did not hold

    # timing
    # The first look comes settle_s after the first alert. Until lead_window_s after it, a
    # best hypothesis is acted on only when it leads the next by min_lead (one fault sets off
    # its alerts over a few seconds); otherwise the agent looks again every early_retry_s.
    settle_s: float = Field(3.0, ge=0)
    lead_window_s: float = Field(3.0, ge=0)
    min_lead: float = Field(0.15, ge=0, le=1)
    early_retry_s: float = Field(1.0, gt=0)
    # A hypothesis that needs a log signature to be absent (net-db-latency: no lost
    # connections) is not acted on until absence_window_s after the first alert: absence
    # takes time to show (a partition's first lost connection is logged after a request
    # timeout, a second or more after the probe's alert).
    absence_window_s: float = Field(6.0, ge=0)
    # A first look under min_confidence, or matching no runbook, is taken again every
    # diagnose_retry_s while the incident is younger than diagnose_patience_s (since the
    # agent opened it): alerts with a `for` duration and the evidence window fill in over
    # the first seconds (slower on a loaded machine). Judged on the deterministic
    # diagnosis, before any LLM call.
    diagnose_patience_s: float = Field(20.0, ge=0)
    diagnose_retry_s: float = Field(4.0, gt=0)
    evidence_window_s: float = Field(300.0, gt=0)
    verify_hold_s: float = Field(10.0, ge=0)  # signals clear and health ok for this long
    # alerts no fix explains firing this long after a fix (at most verify_hold_s): partial,
    # the rest diagnosed at once as another fault
    partial_hold_s: float = Field(3.0, ge=0)
    verify_timeout_s: float = Field(150.0, gt=0)
    workers: int = Field(2, ge=1, le=16)  # incidents handled at once
    # An open incident no worker holds, not awaiting approval, unchanged this long: looked at
    # again (the watchdog, checked every 10 s).
    stall_s: float = Field(60.0, gt=0)

    # notifications (approvals, escalations)
    slack_webhook_url: SecretStr | None = None
    discord_webhook_url: SecretStr | None = None
    log_level: str = "INFO"

    @field_validator("action_url", "observability_url", "llm_base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value


@lru_cache
def get_settings() -> Settings:
    """The settings, from the environment and the file named by AGENT_ENV_FILE."""
    return load_with_env_file(Settings, "AGENT_ENV_FILE")
