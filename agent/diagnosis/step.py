"""The diagnosing step: perceive, retrieve, diagnose (deterministic, then the crew in llm
mode), store the diagnosis; or resolve an incident whose alerts cleared by themselves, or look
again at a weak first look while the incident is young.

The same after a partial verification (a fix held, alerts no fix explains still fire): the
rest is diagnosed as a fresh look, its patience counted from then, and the incident resolves
if the rest clears meanwhile. A fault another open incident is fixing is not this incident's
to fix: its hypothesis is set aside, and the incident waits (bounded) while that one works.
"""

import logging
import threading
from datetime import UTC, datetime
from typing import Literal

from agent.claims import claimed_elsewhere
from agent.closing import Closing
from agent.config import Settings
from agent.diagnosis.text import incident_text, judge, text_candidates
from agent.model import Diagnosis, IncidentState, Perception, Plan, Usage
from agent.pipeline_types import CrewLike, Diagnoser, Knowledge, Observability
from agent.store import IncidentStore
from agent.store.models import Incident
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

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
        partial_at = last_partial(incident)
        fresh_look = not incident.plans or partial_at is not None
        # words a human or a foreign monitor sent: no lab alert of ours clears them
        words = None if incident.plans else incident_text(self.store.alerts(incident.id))
        if (
            fresh_look
            and words is None
            and self._cleared(incident, perception, after_fix=bool(incident.plans))
        ):
            return False
        from agent.diagnosis.rules import query_text

        matches = self._retrieve(incident, query_text(perception), perception)
        text_matches = (
            self._retrieve(incident, words, perception, mode=self.settings.text_retrieval)
            if words
            else []
        )
        diagnosis = self._diagnose(perception, matches)
        claimed = claimed_elsewhere(self.store, incident.id)
        first = diagnosis.best
        # the evidence points at what another incident is fixing: wait for that fix (the
        # alerts then clear), rather than act on a runner-up explanation of the same signs
        waiting = first is not None and first.fault in claimed
        if claimed:
            diagnosis = set_aside(diagnosis, claimed)
        retry_s = self._look_again_in(incident, diagnosis, since=partial_at, fresh=fresh_look)
        held_by_other = waiting or (claimed and diagnosis.best is None)
        if retry_s is None and held_by_other and self._may_wait(incident):
            retry_s = self.settings.diagnose_retry_s
        if retry_s is not None:
            best = diagnosis.best
            self.store.add_event(
                incident.id,
                "diagnose:inconclusive",
                {"features": len(perception.features), "errors": perception.errors},
                {
                    "summary": f"best: {best.fault} ({best.confidence:.2f})" if best else "none",
                    "retry_in_s": retry_s,
                },
            )
            return not self._stop.wait(retry_s)
        usage, crew_plans, fallback = Usage(), list[Plan](), ""
        if self.settings.mode == "llm" and self.crew is not None:
            usage, crew_plans, diagnosis, fallback = self._crew(perception, matches, diagnosis)
        escalate_for_text = None
        if words is not None:
            candidates = text_candidates(text_matches, self.knowledge.runbooks)
            verdict = judge(diagnosis, candidates, self.settings.min_confidence)
            diagnosis, escalate_for_text = verdict.diagnosis, verdict.escalate
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
            **(
                {"text": words, "text_matches": [m.model_dump(mode="json") for m in text_matches]}
                if words is not None
                else {}
            ),
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
        if escalate_for_text is not None:
            self.closing.escalate(incident.id, escalate_for_text)
            return False
        if best is None:
            self.closing.escalate(incident.id, "no hypothesis: the evidence matched no runbook")
            return False
        self.store.transition(
            incident.id, S.planned, step="diagnose", inputs=inputs, outputs=outputs
        )
        return True

    def _look_again_in(
        self, incident: Incident, diagnosis: Diagnosis, *, since: datetime | None, fresh: bool
    ) -> float | None:
        """Seconds until the next look when this one is too early to act on, else None.

        Only a fresh look (the first, or of the rest after a partial fix) waits: a weak best
        on a young picture is looked at again until diagnose_patience_s; a strong best that
        does not lead the next by min_lead, until lead_window_s after the picture began
        (its other alerts may still be firing); a best that needs a log line to be absent,
        until absence_window_s after it. Faults this incident tried do not count."""
        if not fresh:
            return None
        s = self.settings
        if since is not None and (datetime.now(UTC) - since).total_seconds() < s.lead_window_s:
            return s.early_retry_s  # after a partial fix: give its slower alerts a moment
        tried = {p["hypothesis"]["fault"] for p in incident.plans}
        fresh_ones = [h for h in diagnosis.hypotheses if h.fault not in tried]
        best = fresh_ones[0] if fresh_ones else None
        now = datetime.now(UTC)
        if best is None or best.confidence < s.min_confidence:
            age = (now - (since or incident.opened_at)).total_seconds()  # since intake
            return s.diagnose_retry_s if age + s.diagnose_retry_s <= s.diagnose_patience_s else None
        runner_up = fresh_ones[1].confidence if len(fresh_ones) > 1 else 0.0
        began = (now - (since or incident.detected_at)).total_seconds()  # the first alert
        if best.confidence - runner_up < s.min_lead and began + s.early_retry_s <= s.lead_window_s:
            return s.early_retry_s
        if began < s.absence_window_s and rests_on_absence(best.fault, self.knowledge.runbooks):
            return min(s.early_retry_s, s.absence_window_s - began)
        return None

    def _may_wait(self, incident: Incident) -> bool:
        """Whether the incident may still wait for another incident's fix (bounded by the
        verification timeout: that fix is verified or not by then)."""
        age = (datetime.now(UTC) - incident.opened_at).total_seconds()
        return age < self.settings.verify_timeout_s

    def _cleared(self, incident: Incident, perception: Perception, *, after_fix: bool) -> bool:
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
        outcome = (
            "verified: the rest cleared after the fix"
            if after_fix
            else "cleared by itself, no action"
        )
        self.store.transition(
            incident.id,
            S.resolved,
            step="cleared",
            inputs={"alertnames": incident.alertnames, "health": health},
            outputs={"outcome": outcome, "reason": outcome},
        )
        runs = incident.verification.get("runs") or []
        self.store.update(incident.id, verification={"outcome": outcome, "runs": runs})
        self.closing.close(incident.id)
        return True

    def _retrieve(
        self,
        incident: Incident,
        text: str,
        perception: Perception,
        *,
        mode: Literal["dense", "hybrid"] | None = None,
    ) -> list[Match]:
        """The runbooks and past incidents closest to `text` ([] when retrieval fails; the
        failure is noted among the perception's errors)."""
        try:
            return self.knowledge.query(text, self.settings.retrieval_k, mode=mode)
        except Exception as exc:
            log.exception("retrieval failed for %s", incident.id)
            perception.errors.append(f"retrieval failed: {type(exc).__name__}")
            return []

    def _diagnose(self, perception: Perception, matches: list[Match]) -> Diagnosis:
        if self._diagnoser is not None:
            return self._diagnoser(perception, self.knowledge.runbooks, matches)
        from agent.diagnosis.rules import diagnose

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


def last_partial(incident: Incident) -> datetime | None:
    """When the incident's last verification ended partial (None: it did not)."""
    runs = incident.verification.get("runs") or []
    if not runs or not runs[-1].get("partial"):
        return None
    return datetime.fromisoformat(str(runs[-1]["finished_at"]))


def set_aside(diagnosis: Diagnosis, claimed: dict[str, str]) -> Diagnosis:
    """The diagnosis without the faults other open incidents are fixing (said in its notes)."""
    kept = [h for h in diagnosis.hypotheses if h.fault not in claimed]
    dropped = [h.fault for h in diagnosis.hypotheses if h.fault in claimed]
    if not dropped:
        return diagnosis
    aside = "; ".join(f"{f} set aside: {claimed[f]} is fixing it" for f in dropped)
    notes = f"{diagnosis.notes}; {aside}" if diagnosis.notes else aside
    return diagnosis.model_copy(update={"hypotheses": kept, "notes": notes})


def rests_on_absence(fault: str, runbooks: list[Runbook]) -> bool:
    """Whether the fault's runbook requires a log signature to be absent: evidence that only
    time gives (the lines of a slower fault may not have arrived yet)."""
    return any(
        signal.required and signal.op == "absent" and signal.feature.startswith("log:")
        for book in runbooks
        if fault in book.faults
        for signal in book.signals
    )
