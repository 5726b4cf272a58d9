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
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent import approval as approvals
from agent.act import run_plan
from agent.closing import Closing
from agent.config import Settings
from agent.diagnosis.step import Diagnosing
from agent.model import (
    Diagnosis,
    Hypothesis,
    IncidentState,
    Plan,
    Verdict,
)
from agent.notify import Notifier
from agent.pipeline_types import (
    ActionsClient,
    CrewLike,
    Diagnoser,
    Knowledge,
    Observability,
    Planner,
)
from agent.policy import PolicyContext, PolicyEngine, overall
from agent.store import IncidentStore
from agent.store.models import Incident
from agent.verifying import Verifying, verify_failures
from agent.workers import Workers

if TYPE_CHECKING:
    from knowledge.index import KnowledgeIndex

log = logging.getLogger("agent.pipeline")
S = IncidentState
NotAwaitingApproval = approvals.NotAwaitingApproval
EXPIRE_EVERY_S = 10.0
RAN = ("succeeded", "failed", "rolled_back", "running", "interrupted")  # touched the target


class IncidentPipeline(Workers):
    """Workers (agent/workers.py) that carry incidents through the state machine."""

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
        super().__init__(workers=settings.workers, tick_s=tick_s)
        self.settings, self.store, self.obs = settings, store, observability
        self.knowledge, self.actions, self.notifier, self.crew = knowledge, actions, notifier, crew
        self.policy = PolicyEngine(settings, store=store, actions=actions)
        self._planner = planner
        self.closing = Closing(store=store, actions=actions, notifier=notifier, knowledge=knowledge)
        self._verifying = Verifying(
            store=store,
            observability=observability,
            knowledge=knowledge,
            closing=self.closing,
            stop=self._stop,
            partial_hold_s=settings.partial_hold_s,
        )
        self._diagnosing = Diagnosing(
            settings,
            store,
            observability,
            knowledge,
            crew,
            diagnoser=diagnoser,
            closing=self.closing,
            stop=self._stop,
        )
        self.base_url = f"http://{settings.host}:{settings.port}"
        self._expired_at = 0.0

    # -- lifecycle -----------------------------------------------------------------------

    def resumable(self) -> list[str]:
        """Every open incident: a restarted agent resumes where it stopped."""
        return [incident.id for incident in self.store.open_incidents()]

    def tick(self) -> None:
        """Queue awaiting-approval incidents whose deadline passed; every EXPIRE_EVERY_S,
        resolve the firing alert records not refreshed in time and look again at stalled
        incidents."""
        now = time.monotonic()
        if now - self._expired_at >= EXPIRE_EVERY_S:
            self._expired_at = now
            self.store.expire_alerts()
            self._watchdog()
        for incident in self.store.list(state=S.awaiting_approval, limit=200):
            pending = approvals.load(incident.approval)
            if pending is None or pending.expired():
                self.submit(incident.id)

    def _watchdog(self) -> None:
        """An open incident that no worker holds and that made no progress for stall_s
        (not one waiting for a human) is looked at again, with a `watchdog` event: an
        incident is never left silent."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.stall_s)
        for incident in self.store.open_incidents():
            if incident.state == S.awaiting_approval or self.holds(incident.id):
                continue
            if (incident.updated_at or incident.opened_at) > cutoff:
                continue
            log.warning(
                "incident %s made no progress in %s: looked at again",
                incident.id,
                incident.state.value,
            )
            self.store.add_event(
                incident.id,
                "watchdog",
                {"state": incident.state.value, "stall_s": self.settings.stall_s},
                {"summary": "no progress and no worker on it: looked at again"},
            )
            self.submit(incident.id)

    # -- approvals -----------------------------------------------------------------------

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        """Grant the pending approval; the plan runs (NotAwaitingApproval otherwise)."""
        return self._answer(incident_id, granted=True, by=by, note=note)

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        """Deny the pending approval; the incident escalates with no action."""
        return self._answer(incident_id, granted=False, by=by, note=note)

    def _answer(self, incident_id: str, *, granted: bool, by: str, note: str | None) -> Incident:
        with self._id_lock(incident_id):
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
                    with self._id_lock(incident_id):
                        go_on = self._awaiting_approval(self.store.require(incident_id))
                else:
                    go_on = steps[incident.state](incident)
                if not go_on:
                    return
        except Exception as exc:
            log.exception("incident %s failed", incident_id)
            self.closing.fail(incident_id, exc)

    def _detected(self, incident: Incident) -> bool:
        """Let the other alerts of the same outage fire, then start diagnosing."""
        # never longer than settle_s: a first alert stamped in the future holds nothing back
        wait = min(
            self.settings.settle_s,
            (
                incident.detected_at + timedelta(seconds=self.settings.settle_s) - datetime.now(UTC)
            ).total_seconds(),
        )
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
            self.closing.escalate(incident.id, f"no further hypothesis to try (tried: {tried})")
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
            self.closing.escalate(incident.id, f"the runbook for {hypothesis.fault} says escalate")
            return False
        if verdict == Verdict.escalate:
            why = "; ".join(d.reason for d in decisions if d.verdict == Verdict.escalate)
            self.closing.escalate(incident.id, f"policy: {why}")
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
        failures = verify_failures(incident.verification.get("runs") or [])
        return PolicyContext(
            incident_id=incident.id,
            actions_taken=len(ran),
            verify_failures=failures,
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
        self.closing.escalate(incident.id, f"approval {reason}", step="approval:denied")
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
            self.closing.escalate(incident.id, why)
            return False
        if ran.dry_run:
            self.closing.escalate(
                incident.id, "dry-run mode: nothing changed (the plan was validated)"
            )
            return False
        self.store.transition(
            incident.id,
            S.verifying,
            step="act",
            inputs={"plan": index},
            outputs={"summary": f"ran {', '.join(s.action for s in plan.steps)}"},
        )
        return True


def open_knowledge(settings: Settings) -> "KnowledgeIndex":
    """The agent's knowledge index (not built yet: `ensure()` builds or reuses it)."""
    from knowledge.index import KnowledgeIndex

    return KnowledgeIndex(
        settings.state_dir,
        runbook_dir=settings.runbook_dir,
        embedding=settings.embedding,
    )


def build_pipeline(
    settings: Settings, store: IncidentStore, *, knowledge: Knowledge | None = None
) -> IncidentPipeline:
    """The real parts: observability client, knowledge index, action client, notifier, and
    the LLM crew in llm mode."""
    from action_server.client import ActionClient
    from agent.perceive import ObservabilityClient

    if knowledge is None:
        index = open_knowledge(settings)
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
        try:
            runner = crew_mod.CrewRunner
        except ImportError as exc:  # LLMExtraMissing: the lab runs on without the crew
            log.error("AGENT_MODE=llm, but %s; running in deterministic mode", exc)
        else:
            crew = runner(settings, observability=obs, knowledge=knowledge, actions=actions)
    return IncidentPipeline(settings, store, obs, knowledge, actions, notifier, crew)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
