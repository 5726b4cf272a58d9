"""The agent's typed vocabulary: incidents, evidence, hypotheses, plans, policy decisions.

Every stage of the pipeline (perceive -> diagnose -> plan -> policy -> act -> verify) takes
and returns these types, whichever mode (deterministic or the LLM crew) produced them, so
the same policy engine judges both.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lab.catalogue.registry import Risk as Risk  # the kit's, re-exported: the agent's vocabulary
from lab.catalogue.registry import get_catalogue
from lab.incident_states import IncidentState as IncidentState

# The catalogue's actions (lab/catalogue/catalogue.yaml): the policy refuses anything else and
# holds the high-risk ones for approval by default. An action is known by being declared there.
CATALOGUE_ACTIONS: tuple[str, ...] = get_catalogue().action_names
HIGH_RISK_ACTIONS: tuple[str, ...] = get_catalogue().high_risk_actions


class Alert(BaseModel):
    """One alert as received (Alertmanager, Grafana, or the incident contract)."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str
    alertname: str
    status: Literal["firing", "resolved"] = "firing"
    service: str | None = None
    severity: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    group_key: str | None = None
    source: Literal["alertmanager", "grafana", "incident"] = "alertmanager"


class Perception(BaseModel):
    """What observability said when the agent looked: raw documents plus derived features.

    `features` is the flat vocabulary runbook signals are written against (see
    knowledge/runbooks/README.md): name -> number, string or bool.
    """

    taken_at: datetime
    alerts: list[dict[str, Any]] = Field(default_factory=list)  # observability /alerts
    snapshot: dict[str, Any] = Field(default_factory=dict)  # observability /snapshot
    evidence: dict[str, Any] = Field(default_factory=dict)  # observability /evidence
    features: dict[str, float | str | bool] = Field(default_factory=dict)
    trace_ids: list[str] = Field(default_factory=list)
    log_lines: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)  # what could not be read, and why


class Citation(BaseModel):
    """A piece of evidence or a runbook passage a hypothesis rests on."""

    kind: Literal["signal", "feature", "runbook", "past_incident", "log", "trace"]
    ref: str  # feature name, runbook id, incident id, trace id...
    text: str = ""
    score: float | None = None


class Hypothesis(BaseModel):
    """One candidate cause, ranked by confidence in [0, 1]."""

    fault: str  # a catalogue fault id, or "unknown"
    runbook_id: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    citations: list[Citation] = Field(default_factory=list)


class Diagnosis(BaseModel):
    """Ranked hypotheses (best first) and how they were reached."""

    hypotheses: list[Hypothesis] = Field(default_factory=list)
    mode: Literal["deterministic", "llm"] = "deterministic"
    notes: str = ""

    @property
    def best(self) -> Hypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None


class PlanStep(BaseModel):
    """One catalogue action with its parameters and risk."""

    model_config = ConfigDict(extra="forbid")

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = "low"
    why: str = ""


class Verification(BaseModel):
    """What proves the fix: signals back to baseline and health checks, held for a window."""

    signals: list[str] = Field(default_factory=list)  # feature names / alert names to clear
    health: list[str] = Field(default_factory=lambda: ["target"])  # services to be healthy
    hold_s: float = 10.0
    timeout_s: float = 120.0


class Plan(BaseModel):
    """Ordered steps for one hypothesis, and the verification that will prove them."""

    hypothesis: Hypothesis
    steps: list[PlanStep]
    verification: Verification = Field(default_factory=Verification)


class Verdict(StrEnum):
    """The policy engine's answer for one step."""

    allow = "allow"
    needs_approval = "needs_approval"
    refuse = "refuse"
    escalate = "escalate"


class PolicyDecision(BaseModel):
    """Why a step may run, must wait for a human, is refused, or the incident escalates."""

    step: PlanStep
    verdict: Verdict
    reason: str
    dry_run: bool = False


class Usage(BaseModel):
    """LLM token counts and cost for one incident (zero in deterministic mode)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0
