"""The diagnosing step: perceive, retrieve, diagnose (deterministic, then the crew in llm
mode), store the diagnosis; or resolve an incident whose alerts cleared by themselves, or look
again at a weak first look while the incident is young."""

import logging
import threading
from datetime import UTC, datetime

from agent.closing import Closing
from agent.config import Settings
from agent.model import Diagnosis, IncidentState, Perception, Plan, Usage
from agent.pipeline_types import CrewLike, Diagnoser, Knowledge, Observability
from agent.store import IncidentStore
from agent.store_models import Incident
from knowledge.retrieval import Match

log = logging.getLogger("agent.pipeline")
S = IncidentState


class Diagnosing:
    """The step an IncidentPipeline runs for incidents in `diagnosing`."""

    def __init__(
        self,
        settings: Settings,
        store: IncidentStore,
        observability: Observability,
        knowledge: Knowledge,
        crew: CrewLike | None,
        *,
        diagnoser: Diagnoser | None,
        closing: Closing,
        stop: threading.Event,
    ) -> None:
        self.settings, self.store, self.obs = settings, store, observability
        self.knowledge, self.crew, self.closing = knowledge, crew, closing
        self._diagnoser = diagnoser
        self._stop = stop

    def __call__(self, incident: Incident) -> bool:
        """Diagnose the incident: False when it closed or must wait, True to plan."""
        perception = self.obs.perceive(self.settings.evidence_window_s)
        if not incident.plans and self._cleared(incident, perception):
            return False
        matches: list[Match] = []
        try:
            from agent.diagnose import query_text

            matches = self.knowledge.query(query_text(perception), self.settings.retrieval_k)
        except Exception as exc:
            log.exception("retrieval failed for %s", incident.id)
            perception.errors.append(f"retrieval failed: {type(exc).__name__}")
        diagnosis = self._diagnose(perception, matches)
        if not incident.plans and self._too_early(incident, diagnosis):
            best = diagnosis.best
            self.store.add_event(
                incident.id,
                "diagnose:inconclusive",
                {"features": len(perception.features), "errors": perception.errors},
                {
                    "summary": f"best: {best.fault} ({best.confidence:.2f})" if best else "none",
                    "retry_in_s": self.settings.diagnose_retry_s,
                },
            )
            return not self._stop.wait(self.settings.diagnose_retry_s)
        usage, crew_plans, fallback = Usage(), list[Plan](), ""
        if self.settings.mode == "llm" and self.crew is not None:
            usage, crew_plans, diagnosis, fallback = self._crew(perception, matches, diagnosis)
        best = diagnosis.best
        evidence = {
            "features": perception.features,
            "log_lines": perception.log_lines[:20],
            "trace_ids": perception.trace_ids[:20],
            "errors": perception.errors,
        }
        stored = {
            **diagnosis.model_dump(mode="json"),
            "evidence": evidence,
            "matches": [m.model_dump(mode="json") for m in matches],
            "crew_plans": [p.model_dump(mode="json") for p in crew_plans],
            "fallback": fallback,
        }
        self.store.update(
            incident.id,
            diagnosis=stored,
            usage=usage.model_dump(mode="json"),
            mode=diagnosis.mode,
            fault=best.fault if best else None,
            diagnosed_at=incident.diagnosed_at or datetime.now(UTC),  # the first diagnosis
        )
        outputs = {
            "hypotheses": [h.model_dump(mode="json") for h in diagnosis.hypotheses],
            "mode": diagnosis.mode,
            "notes": diagnosis.notes,
            "fallback": fallback,
            "usage": usage.model_dump(mode="json"),
            "summary": f"best: {best.fault} ({best.confidence:.2f})" if best else "no hypothesis",
        }
        inputs = {
            "features": perception.features,
            "matches": [{"kind": m.kind, "id": m.id, "score": m.score} for m in matches],
            "errors": perception.errors,
        }
        if best is None:
            self.closing.escalate(incident.id, "no hypothesis: the evidence matched no runbook")
            return False
        self.store.transition(
            incident.id, S.planned, step="diagnose", inputs=inputs, outputs=outputs
        )
        return True

    def _too_early(self, incident: Incident, diagnosis: Diagnosis) -> bool:
        """A weak first look on a young incident: look again rather than escalate on it."""
        best = diagnosis.best
        if best is not None and best.confidence >= self.settings.min_confidence:
            return False
        age = (datetime.now(UTC) - incident.opened_at).total_seconds()  # since intake
        return age + self.settings.diagnose_retry_s <= self.settings.diagnose_patience_s

    def _cleared(self, incident: Incident, perception: Perception) -> bool:
        """Nothing of the incident still firing and health ok: resolve with no action."""
        if perception.errors:
            return False
        firing = [
            a
            for a in perception.alerts
            if a.get("status") == "firing"
            and (
                a.get("fingerprint") in incident.fingerprints
                or a.get("alertname") in incident.alertnames
            )
        ]
        services = [incident.service or "target"]
        health = self.obs.health(services)
        if firing or not all(health.values()):
            return False
        self.store.transition(
            incident.id,
            S.resolved,
            step="cleared",
            inputs={"alertnames": incident.alertnames, "health": health},
            outputs={"outcome": "cleared by itself, no action", "reason": "cleared by itself"},
        )
        self.store.update(
            incident.id, verification={"outcome": "cleared by itself, no action", "runs": []}
        )
        self.closing.close(incident.id)
        return True

    def _diagnose(self, perception: Perception, matches: list[Match]) -> Diagnosis:
        if self._diagnoser is not None:
            return self._diagnoser(perception, self.knowledge.runbooks, matches)
        from agent.diagnose import diagnose

        return diagnose(perception, self.knowledge.runbooks, matches)

    def _crew(
        self, perception: Perception, matches: list[Match], fallback_diagnosis: Diagnosis
    ) -> tuple[Usage, list[Plan], Diagnosis, str]:
        """The LLM crew's diagnosis and plans; its failure falls back to the deterministic."""
        assert self.crew is not None
        from agent.crew.errors import CrewError

        try:
            outcome = self.crew.run(perception, matches, self.knowledge.runbooks)
        except CrewError as exc:
            reason = getattr(exc, "reason", "timeout")
            log.warning("crew failed (%s); using the deterministic diagnosis", reason)
            return exc.usage, [], fallback_diagnosis, f"crew {reason}: {str(exc)[:300]}"
        except Exception as exc:  # a crew bug must not cost the incident its diagnosis
            log.exception("crew raised; using the deterministic diagnosis")
            return Usage(), [], fallback_diagnosis, f"crew error: {type(exc).__name__}"
        return outcome.usage, list(outcome.plans), outcome.diagnosis, ""
