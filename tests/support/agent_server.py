"""The agent app in tests: served over real HTTP with a recording stand-in for the pipeline."""

from dataclasses import dataclass

from agent.model import IncidentState
from agent.store import IncidentStore
from agent.store.models import Incident


class RecorderPipeline:
    """Stands in for agent.pipeline in API tests: records what the API asked of it.

    The real pipeline (perceive, diagnose, act...) is tested in its own modules; here only
    the hand-over from the API is checked.
    """

    def __init__(self, store: IncidentStore) -> None:
        self.store = store
        self.submitted: list[str] = []
        self.answers: list[tuple[str, str, bool]] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def submit(self, incident_id: str) -> None:
        self.submitted.append(incident_id)

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        self.answers.append((incident_id, by, True))
        return self.store.transition(
            incident_id, IncidentState.acting, step="approval", inputs={"by": by}, outputs={}
        )

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        self.answers.append((incident_id, by, False))
        return self.store.transition(
            incident_id, IncidentState.escalated, step="approval", inputs={"by": by}, outputs={}
        )


@dataclass
class AgentServer:
    """The agent app served by uvicorn on a loopback port, with a recorder pipeline."""

    url: str
    token: str
    pipeline: RecorderPipeline
    store: IncidentStore
    approvers: dict[str, str]  # name -> token, as in the agent's approvers file

    def auth(self) -> dict[str, str]:
        """The intake token's header (alerts and silences)."""
        return {"Authorization": f"Bearer {self.token}"}

    def approver(self, name: str = "alice") -> dict[str, str]:
        """An approver's header (approve and deny)."""
        return {"Authorization": f"Bearer {self.approvers[name]}"}
