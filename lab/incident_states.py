"""An incident's states: the vocabulary the agent's pipeline, its knowledge (postmortems)
and the game day share (ARCHITECTURE.md, Agent pipeline)."""

from enum import StrEnum


class IncidentState(StrEnum):
    """detected -> diagnosing -> planned -> [awaiting_approval] -> acting -> verifying ->
    resolved | escalated | failed."""

    detected = "detected"
    diagnosing = "diagnosing"
    planned = "planned"
    awaiting_approval = "awaiting_approval"
    acting = "acting"
    verifying = "verifying"
    resolved = "resolved"
    escalated = "escalated"
    failed = "failed"

    @property
    def closed(self) -> bool:
        return self in (IncidentState.resolved, IncidentState.escalated, IncidentState.failed)
