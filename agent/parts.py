"""The agent's running parts (settings, store, pipeline, metrics, the intake token,
approvers), on app.state.parts."""

from dataclasses import dataclass, field
from typing import Protocol

from agent.config import Settings
from agent.metrics import AgentMetrics
from agent.silences import Silences
from agent.store import IncidentStore
from agent.store.models import Incident
from lab.approvers import Approvers


class PipelineLike(Protocol):
    """What the API needs of the pipeline (agent.pipeline.IncidentPipeline, or a recorder)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, incident_id: str) -> None: ...

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident: ...

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident: ...


@dataclass
class AgentParts:
    """The agent's running parts, on app.state.parts."""

    settings: Settings
    store: IncidentStore
    metrics: AgentMetrics
    token: str
    approvers: Approvers = field(default_factory=Approvers)
    pipeline: PipelineLike | None = None
    silences: Silences = field(default_factory=Silences)
    pipeline_status: str = "starting"  # running | failed (the real one starts in background)
