"""Closing an incident: escalation, failure, and the report and postmortem at every close."""

import logging

from agent.model import IncidentState
from agent.notify import Notifier, escalate_incident
from agent.pipeline_types import ActionsClient, Knowledge
from agent.report import postmortem, render
from agent.store import IncidentStore

log = logging.getLogger("agent.pipeline")
S = IncidentState


class Closing:
    """What every way out of the pipeline does."""

    def __init__(
        self,
        *,
        store: IncidentStore,
        actions: ActionsClient,
        notifier: Notifier,
        knowledge: Knowledge,
    ) -> None:
        self.store, self.actions = store, actions
        self.notifier, self.knowledge = notifier, knowledge

    def escalate(self, incident_id: str, reason: str, *, step: str = "escalate") -> None:
        """Escalate through the action server (and the notifier), then close."""
        outputs = escalate_incident(
            store=self.store,
            actions=self.actions,
            notifier=self.notifier,
            incident=self.store.require(incident_id),
            reason=reason,
            tried=self.store.actions(incident_id),
        )
        self.store.transition(
            incident_id, S.escalated, step=step, inputs={"reason": reason}, outputs=outputs
        )
        self.close(incident_id)

    def fail(self, incident_id: str, exc: Exception) -> None:
        """The incident failed on an error of the agent's own; closed as failed."""
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        try:
            self.store.transition(
                incident_id, S.failed, step="error", inputs={}, outputs={"error": error}
            )
            self.close(incident_id)
        except Exception:
            log.exception("could not record the failure of %s", incident_id)

    def close(self, incident_id: str) -> None:
        """The report on the incident and its postmortem in the knowledge memory."""
        incident = self.store.require(incident_id)
        actions = self.store.actions(incident_id)
        report = render(incident, self.store.events(incident_id), actions)
        self.store.update(incident_id, report=report)
        written = None
        add = getattr(self.knowledge, "add_postmortem", None)
        if add is not None:
            try:
                written = str(add(postmortem(incident, actions)))
            except Exception as exc:
                log.exception("postmortem of %s not written", incident_id)
                written = f"not written: {type(exc).__name__}"
        self.store.add_event(
            incident_id,
            "report",
            {"state": incident.state.value},
            {"report_chars": len(report), "postmortem": written},
        )
