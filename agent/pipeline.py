"""The incident pipeline: detected -> diagnosing -> planned -> [awaiting_approval] -> acting
-> verifying -> resolved | escalated | failed, every step persisted with an event.

Worker threads take incident ids from a queue; one incident is handled by one worker at a
time. A worker advances an incident state by state until it closes or has to wait for a
human: the approval request is stored on the incident, so no thread waits for an answer;
approve/deny (or the deadline, watched by a ticker thread) queue the incident again. What
an incident did so far (plans tried, decisions, actions, verifications) is read back from
the store at every step, so a restarted agent resumes where it stopped.
"""

import importlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from agent import approval as approvals
from agent.act import run_plan
from agent.config import Settings
from agent.model import (
    Diagnosis,
    Hypothesis,
    IncidentState,
    Perception,
    Plan,
    Usage,
    Verdict,
)
from agent.notify import Notifier, escalate_incident
from agent.policy import CatalogueClient, PolicyContext, PolicyEngine, overall
from agent.report import postmortem, render
from agent.store import IncidentStore
from agent.store_models import Incident
from agent.verify import VerifyingObservability, routed_around, verify
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

log = logging.getLogger("agent.pipeline")
S = IncidentState
NotAwaitingApproval = approvals.NotAwaitingApproval
RAN = ("succeeded", "failed", "rolled_back", "running", "interrupted")  # touched the target


class Observability(VerifyingObservability, Protocol):
    def close(self) -> None: ...


class Knowledge(Protocol):
    runbooks: list[Runbook]

    def query(self, text: str, k: int = 5) -> list[Match]: ...


class CrewLike(Protocol):
    def run(self, perception: Perception, matches: list[Match], runbooks: list[Runbook]) -> Any: ...


Diagnoser = Callable[[Perception, list[Runbook], list[Match]], Diagnosis]
Planner = Callable[[Hypothesis, list[Runbook]], Plan]


class ActionsClient(CatalogueClient, Protocol):
    def close(self) -> None: ...


class IncidentPipeline:
    """Workers that carry incidents through the state machine."""

    def __init__(
        self,
        settings: Settings,
        store: IncidentStore,
        observability: Observability,
        knowledge: Knowledge,
        actions: ActionsClient,
        notifier: Notifier,
        crew: CrewLike | None = None,
        *,
        diagnoser: Diagnoser | None = None,
        planner: Planner | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.settings, self.store, self.obs = settings, store, observability
        self.knowledge, self.actions, self.notifier, self.crew = knowledge, actions, notifier, crew
        self.policy = PolicyEngine(settings, store=store, actions=actions)
        self._diagnoser = diagnoser
        self._planner = planner
        self._tick_s = tick_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._incident_locks: dict[str, threading.Lock] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.base_url = f"http://{settings.host}:{settings.port}"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and the ticker; resume every open incident."""
        if self._threads:
            return
        self._stop.clear()
        for n in range(self.settings.workers):
            self._threads.append(
                threading.Thread(target=self._work, name=f"agent-worker-{n}", daemon=True)
            )
        self._threads.append(threading.Thread(target=self._tick, name="agent-ticker", daemon=True))
        for thread in self._threads:
            thread.start()
        try:
            for incident in self.store.open_incidents():
                self.submit(incident.id)
        except Exception:
            log.exception("could not list open incidents to resume")

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the step in progress, then stop (an incident stays where it was)."""
        self._stop.set()
        for _ in range(self.settings.workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def submit(self, incident_id: str) -> None:
        """Queue an incident (again); one worker at a time handles it."""
        with self._lock:
            if incident_id in self._active:
                self._again.add(incident_id)
                return
            if incident_id in self._queued:
                return
            self._queued.add(incident_id)
        self._queue.put(incident_id)

    def idle(self) -> bool:
        """Nothing queued and nothing being handled."""
        with self._lock:
            return not self._queued and not self._active

    # -- approvals -----------------------------------------------------------------------

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        """Grant the pending approval; the plan runs (NotAwaitingApproval otherwise)."""
        return self._answer(incident_id, granted=True, by=by, note=note)

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        """Deny the pending approval; the incident escalates with no action."""
        return self._answer(incident_id, granted=False, by=by, note=note)

    def _answer(self, incident_id: str, *, granted: bool, by: str, note: str | None) -> Incident:
        with self._incident_lock(incident_id):
            incident = self.store.require(incident_id)
            if incident.state != S.awaiting_approval:
                raise NotAwaitingApproval(
                    f"incident {incident_id} is {incident.state.value}, not awaiting approval"
                )
            answer = approvals.decide(
                approvals.load(incident.approval),
                granted=granted,
                by=by,
                note=note,
                now=datetime.now(UTC),
            )
            incident = self.store.update(incident_id, approval=answer.model_dump(mode="json"))
            self.store.add_event(
                incident_id,
                "approval:answer",
                {"by": by, "note": note},
                {"status": answer.status, "steps": answer.steps},
            )
        self.submit(incident_id)
        return incident

    def _incident_lock(self, incident_id: str) -> threading.Lock:
        with self._lock:
            return self._incident_locks.setdefault(incident_id, threading.Lock())

    # -- threads -------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            incident_id = self._queue.get()
            if incident_id is None:
                return
            with self._lock:
                self._queued.discard(incident_id)
                self._active.add(incident_id)
            try:
                self.handle(incident_id)
            finally:
                with self._lock:
                    self._active.discard(incident_id)
                    again = incident_id in self._again
                    self._again.discard(incident_id)
                if again and not self._stop.is_set():
                    self.submit(incident_id)

    def _tick(self) -> None:
        """Queue awaiting-approval incidents whose deadline passed."""
        while not self._stop.wait(self._tick_s):
            try:
                for incident in self.store.list(state=S.awaiting_approval, limit=200):
                    pending = approvals.load(incident.approval)
                    if pending is None or pending.expired():
                        self.submit(incident.id)
            except Exception:
                log.exception("approval deadline check failed")

    # -- the state machine -----------------------------------------------------------------

    def handle(self, incident_id: str) -> None:
        """Advance one incident until it closes, waits for a human, or the pipeline stops."""
        steps: dict[IncidentState, Callable[[Incident], bool]] = {
            S.detected: self._detected,
            S.diagnosing: self._diagnosing,
            S.planned: self._planned,
            S.acting: self._acting,
            S.verifying: self._verifying,
        }
        try:
            while not self._stop.is_set():
                incident = self.store.get(incident_id)
                if incident is None or incident.closed:
                    return
                if incident.state == S.awaiting_approval:
                    # the only step an HTTP answer races with; held briefly, never while acting
                    with self._incident_lock(incident_id):
                        go_on = self._awaiting_approval(self.store.require(incident_id))
                else:
                    go_on = steps[incident.state](incident)
                if not go_on:
                    return
        except Exception as exc:
            log.exception("incident %s failed", incident_id)
            self._fail(incident_id, exc)

    def _detected(self, incident: Incident) -> bool:
        """Let the other alerts of the same outage fire, then start diagnosing."""
        wait = (
            incident.detected_at + timedelta(seconds=self.settings.settle_s) - datetime.now(UTC)
        ).total_seconds()
        if wait > 0 and self._stop.wait(wait):
            return False
        self.store.transition(
            incident.id,
            S.diagnosing,
            step="settle",
            inputs={"settle_s": self.settings.settle_s},
            outputs={"alertnames": incident.alertnames, "alert_count": incident.alert_count},
        )
        return True

    def _diagnosing(self, incident: Incident) -> bool:
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
            self._escalate(incident.id, "no hypothesis: the evidence matched no runbook")
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
        self._close(incident.id)
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

    def _plan(self, hypothesis: Hypothesis, incident: Incident) -> Plan:
        for raw in incident.diagnosis.get("crew_plans") or []:
            plan = Plan.model_validate(raw)
            if plan.hypothesis.fault == hypothesis.fault:
                return plan
        if self._planner is not None:
            return self._planner(hypothesis, self.knowledge.runbooks)
        from agent.plan import plan_for

        return plan_for(
            hypothesis,
            self.knowledge.runbooks,
            hold_s=self.settings.verify_hold_s,
            timeout_s=self.settings.verify_timeout_s,
        )

    def _planned(self, incident: Incident) -> bool:
        """Plan the next untried hypothesis and let the policy judge it."""
        hypothesis = self._next_hypothesis(incident)
        if hypothesis is None:
            tried = ", ".join(p["hypothesis"]["fault"] for p in incident.plans) or "none"
            self._escalate(incident.id, f"no further hypothesis to try (tried: {tried})")
            return False
        plan = self._plan(hypothesis, incident)
        index = len(incident.plans)
        ctx = self._context(incident)
        decisions = self.policy.judge(plan, ctx=ctx)
        verdict = overall(decisions)
        plans = [*incident.plans, plan.model_dump(mode="json")]
        stored = [
            *incident.decisions,
            *({**d.model_dump(mode="json"), "plan": index} for d in decisions),
        ]
        self.store.update(incident.id, plans=plans, decisions=stored, fault=hypothesis.fault)
        self.store.add_event(
            incident.id,
            "policy",
            {"plan": plan.model_dump(mode="json"), "context": ctx.model_dump(mode="json")},
            {
                "verdict": verdict.value,
                "decisions": [d.model_dump(mode="json") for d in decisions],
                "reason": "; ".join(f"{d.step.action}: {d.reason}" for d in decisions),
            },
        )
        only_escalate = all(s.action == "escalate" for s in plan.steps)
        if only_escalate:
            self._escalate(incident.id, f"the runbook for {hypothesis.fault} says escalate")
            return False
        if verdict == Verdict.escalate:
            why = "; ".join(d.reason for d in decisions if d.verdict == Verdict.escalate)
            self._escalate(incident.id, f"policy: {why}")
            return False
        if verdict == Verdict.refuse:
            why = "; ".join(d.reason for d in decisions if d.verdict == Verdict.refuse)
            self.store.add_event(incident.id, "policy:refused", {}, {"reason": why})
            return True  # still planned: the next hypothesis is tried
        if verdict == Verdict.needs_approval:
            approvals.ask(
                store=self.store,
                notifier=self.notifier,
                incident=incident,
                plan=plan,
                decisions=decisions,
                plan_index=index,
                timeout_s=self.settings.approval_timeout_s,
                base_url=self.base_url,
            )
            return False
        self.store.transition(
            incident.id,
            S.acting,
            step="plan",
            inputs={"plan": index},
            outputs={"steps": [s.action for s in plan.steps], "verdict": verdict.value},
        )
        return True

    def _next_hypothesis(self, incident: Incident) -> Hypothesis | None:
        diagnosis = Diagnosis.model_validate(
            {k: v for k, v in incident.diagnosis.items() if k in Diagnosis.model_fields}
        )
        tried = {p["hypothesis"]["fault"] for p in incident.plans}
        for n, h in enumerate(diagnosis.hypotheses):
            if h.fault in tried:
                continue
            if n == 0 or h.confidence >= self.settings.min_confidence:
                return h
        return None

    def _context(self, incident: Incident) -> PolicyContext:
        records = self.store.actions(incident.id)
        ran = [a for a in records if not a.dry_run and a.action != "escalate" and a.status in RAN]
        own: dict[str, datetime] = {}
        for a in ran:
            own[a.target] = max(own.get(a.target, a.started_at), a.started_at)
        failures = sum(1 for r in incident.verification.get("runs") or [] if not r.get("passed"))
        return PolicyContext(
            incident_id=incident.id,
            actions_taken=len(ran),
            verify_failures=failures,
            own_last_action=own,
        )

    def _awaiting_approval(self, incident: Incident) -> bool:
        current = approvals.load(incident.approval)
        now = datetime.now(UTC)
        if current is not None and current.expired(now):
            current = approvals.time_out(current, now=now)
            self.store.update(incident.id, approval=current.model_dump(mode="json"))
        if current is not None and current.pending:
            return False  # a human has not answered yet
        if current is not None and current.status == "granted":
            self.store.transition(
                incident.id,
                S.acting,
                step="approval:granted",
                inputs={"by": current.by, "note": current.note},
                outputs={"steps": current.steps},
            )
            return True
        reason = (
            approvals.NO_ANSWER
            if current is None or current.status == "timed_out"
            else f"denied by {current.by}" + (f": {current.note}" if current.note else "")
        )
        self._escalate(incident.id, f"approval {reason}", step="approval:denied")
        return False

    def _acting(self, incident: Incident) -> bool:
        index = len(incident.plans) - 1
        plan = Plan.model_validate(incident.plans[index])
        ran = run_plan(
            store=self.store,
            client=self.actions,
            incident_id=incident.id,
            plan_index=index,
            plan=plan,
            decisions=[d for d in incident.decisions if d.get("plan") == index],
            targets=self.policy.targets(),
            dry_run=self.settings.dry_run,
        )
        if ran.acted_at is not None and incident.acted_at is None:
            self.store.update(incident.id, acted_at=ran.acted_at)
        if not ran.ok:
            why = f"{ran.failed} did not succeed: {ran.why}"
            if self._next_hypothesis(self.store.require(incident.id)) is not None:
                self.store.transition(
                    incident.id,
                    S.planned,
                    step="act",
                    inputs={"plan": index},
                    outputs={"summary": why, "next": "the next hypothesis"},
                )
                return True
            self._escalate(incident.id, why)
            return False
        if ran.dry_run:
            self._escalate(incident.id, "dry-run mode: nothing changed (the plan was validated)")
            return False
        self.store.transition(
            incident.id,
            S.verifying,
            step="act",
            inputs={"plan": index},
            outputs={"summary": f"ran {', '.join(s.action for s in plan.steps)}"},
        )
        return True

    def _verifying(self, incident: Incident) -> bool:
        plan = Plan.model_validate(incident.plans[-1])
        result = verify(
            self.obs,
            alertnames=incident.alertnames,
            verification=plan.verification,
            stop=self._stop,
            routed_around=routed_around(plan),
        )
        if result.stopped:
            return False
        runs = [*(incident.verification.get("runs") or []), result.model_dump(mode="json")]
        outcome = (
            "verified: health ok and signals cleared"
            if result.passed
            else "not verified: " + "; ".join(result.still_failing)[:300]
        )
        self.store.update(incident.id, verification={"runs": runs, "outcome": outcome})
        outputs = {**result.model_dump(mode="json"), "outcome": outcome}
        inputs = {"alertnames": incident.alertnames, **plan.verification.model_dump()}
        if result.passed:
            self.store.update(incident.id, mitigated_at=result.mitigated_at)
            self.store.transition(
                incident.id, S.resolved, step="verify", inputs=inputs, outputs=outputs
            )
            self._close(incident.id)
            return False
        failures = sum(1 for r in runs if not r.get("passed"))
        incident = self.store.require(incident.id)
        if failures < 2 and self._next_hypothesis(incident) is not None:
            # Look again before the next try: the evidence may say more now than at first.
            self.store.transition(
                incident.id, S.diagnosing, step="verify", inputs=inputs, outputs=outputs
            )
            return True
        self.store.add_event(incident.id, "verify", inputs, outputs)
        self._escalate(incident.id, f"the fix did not hold ({failures} failed verification(s))")
        return False

    # -- closing ---------------------------------------------------------------------------

    def _escalate(self, incident_id: str, reason: str, *, step: str = "escalate") -> None:
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
        self._close(incident_id)

    def _fail(self, incident_id: str, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        try:
            self.store.transition(
                incident_id, S.failed, step="error", inputs={}, outputs={"error": error}
            )
            self._close(incident_id)
        except Exception:
            log.exception("could not record the failure of %s", incident_id)

    def _close(self, incident_id: str) -> None:
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


def build_pipeline(
    settings: Settings, store: IncidentStore, *, knowledge: Knowledge | None = None
) -> IncidentPipeline:
    """The real parts: observability client, knowledge index, action client, notifier, and
    the LLM crew in llm mode."""
    from action_server.client import ActionClient
    from agent.perceive import ObservabilityClient

    if knowledge is None:
        from knowledge.index import KnowledgeIndex

        index = KnowledgeIndex(
            settings.state_dir, runbook_dir=settings.runbook_dir, embedding=settings.embedding
        )
        index.ensure()
        knowledge = index
    key = settings.action_key_file.read_text(encoding="utf-8").strip()
    actions = ActionClient(settings.action_url, key, timeout=settings.action_timeout_s)
    obs = ObservabilityClient(settings.observability_url, timeout=settings.http_timeout_s)
    notifier = Notifier(
        slack_url=_secret(settings.slack_webhook_url),
        discord_url=_secret(settings.discord_webhook_url),
    )
    crew = None
    if settings.mode == "llm":
        crew_mod = importlib.import_module("agent.crew")
        crew = crew_mod.CrewRunner(
            settings, observability=obs, knowledge=knowledge, actions=actions
        )
    return IncidentPipeline(settings, store, obs, knowledge, actions, notifier, crew)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
