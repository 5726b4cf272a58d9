"""What the incident store returns: incidents, their events, alerts and actions; legal moves.

Times: `detected_at` is when the first alert of the incident fired (its startsAt), so
`ttd_s` (time to diagnose) and `ttm_s` (time to mitigate) are measured from detection.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from agent.model import IncidentState

S = IncidentState
_OPEN = (S.detected, S.diagnosing, S.planned, S.awaiting_approval, S.acting, S.verifying)

# ARCHITECTURE.md, Agent pipeline; any open state may also fail. Closed states are final.
LEGAL_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.detected: frozenset({S.diagnosing}),
    S.diagnosing: frozenset({S.planned, S.escalated, S.resolved}),
    S.planned: frozenset({S.awaiting_approval, S.acting, S.escalated}),
    S.awaiting_approval: frozenset({S.acting, S.escalated}),
    S.acting: frozenset({S.verifying, S.planned, S.escalated}),  # planned: next hypothesis
    S.verifying: frozenset({S.resolved, S.diagnosing, S.planned, S.escalated}),
    S.resolved: frozenset(),
    S.escalated: frozenset(),
    S.failed: frozenset(),
}
for _state in _OPEN:
    LEGAL_TRANSITIONS[_state] = LEGAL_TRANSITIONS[_state] | {S.failed}


def is_legal(current: IncidentState, to: IncidentState) -> bool:
    """Whether an incident in `current` may move to `to`."""
    return to in LEGAL_TRANSITIONS[current]


class Incident(BaseModel):
    """One incident as persisted in ops-db (agent_incidents)."""

    id: str
    state: IncidentState
    title: str
    service: str | None = None
    severity: str | None = None
    source: str
    external_id: str | None = None
    group_key: str | None = None
    fingerprints: list[str] = Field(default_factory=list)
    alert_count: int = 0
    alertnames: list[str] = Field(default_factory=list)
    opened_at: datetime
    detected_at: datetime
    diagnosed_at: datetime | None = None
    acted_at: datetime | None = None
    mitigated_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    fault: str | None = None
    mode: str | None = None
    diagnosis: dict[str, Any] = Field(default_factory=dict)
    plans: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    verification: dict[str, Any] = Field(default_factory=dict)
    approval: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    report: str | None = None

    @property
    def closed(self) -> bool:
        return self.state.closed

    @property
    def ttd_s(self) -> float | None:
        """Seconds from detection (first alert firing) to diagnosis."""
        return _span(self.detected_at, self.diagnosed_at)

    @property
    def ttm_s(self) -> float | None:
        """Seconds from detection to verified mitigation."""
        return _span(self.detected_at, self.mitigated_at)


def _span(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 3)


class Event(BaseModel):
    """One step of an incident's timeline, with what went in and what came out."""

    id: int
    incident_id: str
    at: datetime
    step: str
    state_from: str | None = None
    state_to: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)


class AlertRecord(BaseModel):
    """One received alert (fingerprint + startsAt), how often it came and where it went."""

    fingerprint: str
    starts_at: datetime
    incident_id: str | None
    alertname: str
    service: str | None
    severity: str | None
    status: str
    source: str
    late: bool
    first_received: datetime
    last_received: datetime
    received_count: int
    ends_at: datetime | None
    resolved_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str]
    group_key: str | None


class ActionRecord(BaseModel):
    """One action the agent ran (or dry-ran, or was refused) through the action server."""

    id: int
    incident_id: str
    step_no: int
    attempt: int
    action: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str
    run_id: str | None = None
    status: str
    dry_run: bool = False
    started_at: datetime
    finished_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class IntakeResult(BaseModel):
    """What one intake call did: incidents opened, incidents alerts joined, repeats seen."""

    opened: list[str] = Field(default_factory=list)
    attached: list[str] = Field(default_factory=list)
    duplicates: int = 0
    resolved: int = 0
    late: int = 0
    ignored: int = 0  # alerts about services the agent does not watch
    silenced: int = 0  # firing alerts received during a silence (agent.silences)
