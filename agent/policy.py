"""The policy engine: sits between any plan (deterministic or LLM) and the action server.

Each step gets one verdict: `allow`, `needs_approval`, `refuse` (not a catalogue action, or
parameters/preconditions the action server rejects in a dry run) or `escalate` (low
confidence, the per-incident cap, the same action on the same target run too often, a fix
that did not hold). `escalate` itself is always allowed.

Loop protection is per (action, target), not per target: a restart loop is stopped by the
budget (`same_action_max` runs in `same_action_window_s`, across incidents) and by "the same
fix did not hold twice"; a different fault on a target acted on a moment ago is handled as
any other.
"""

import time
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from action_server.client import ActionClientError
from agent.act import ActingClient
from agent.config import Settings
from agent.model import CATALOGUE_ACTIONS, IncidentState, Plan, PlanStep, PolicyDecision, Verdict


class ClosedIncident(Protocol):
    state: IncidentState
    acted_at: datetime | None


class PolicyStore(Protocol):
    """What the policy reads from the incident store."""

    def recent_runs(self, action: str, target: str, within_s: float) -> list[Any]: ...

    def recent_closed(self, fault: str, within_s: float) -> list[Any]: ...


class CatalogueClient(ActingClient, Protocol):
    """What the policy asks the action server: the catalogue and dry runs."""

    def actions(self) -> list[dict[str, Any]]: ...


class PolicyContext(BaseModel):
    """What the incident has done so far, for the judgement of its next plan."""

    incident_id: str
    actions_taken: int = 0  # real (not dry-run) catalogue actions run in this incident
    verify_failures: int = 0  # verifications that failed in this incident


_PRIORITY = (Verdict.escalate, Verdict.refuse, Verdict.needs_approval, Verdict.allow)


def overall(decisions: list[PolicyDecision]) -> Verdict:
    """The plan's verdict: the most restrictive of its steps'."""
    verdicts = {d.verdict for d in decisions}
    return next((v for v in _PRIORITY if v in verdicts), Verdict.escalate)


class PolicyEngine:
    """Judges plans against the settings, the store's history and the action server."""

    def __init__(self, settings: Settings, *, store: PolicyStore, actions: CatalogueClient):
        self.settings, self.store, self.actions = settings, store, actions
        self._targets: dict[str, str] | None = None

    def targets(self) -> dict[str, str]:
        """Action name -> the target it changes (from the action server's GET /actions)."""
        if self._targets is None:
            self._targets = {
                a["name"]: str(a.get("target", a["name"])) for a in self.actions.actions()
            }
        return self._targets

    def judge(self, plan: Plan, *, ctx: PolicyContext) -> list[PolicyDecision]:
        """One decision per step, in order."""
        held = self._did_not_hold(plan.hypothesis.fault, ctx)
        decisions: list[PolicyDecision] = []
        planned_actions = 0
        for step in plan.steps:
            decision = self._step(step, plan=plan, ctx=ctx, held=held, planned=planned_actions)
            if decision.verdict in (Verdict.allow, Verdict.needs_approval) and not decision.dry_run:
                planned_actions += step.action != "escalate"
            decisions.append(decision)
        return decisions

    def _step(
        self, step: PlanStep, *, plan: Plan, ctx: PolicyContext, held: str | None, planned: int
    ) -> PolicyDecision:
        def verdict(v: Verdict, reason: str, dry_run: bool = False) -> PolicyDecision:
            return PolicyDecision(step=step, verdict=v, reason=reason, dry_run=dry_run)

        s = self.settings
        if step.action == "escalate":
            return verdict(Verdict.allow, "escalate is always allowed")
        if step.action not in CATALOGUE_ACTIONS:
            return verdict(Verdict.refuse, f"{step.action!r} is not a catalogue action")
        if held:
            return verdict(Verdict.escalate, held)
        confidence = plan.hypothesis.confidence
        if confidence < s.min_confidence:
            return verdict(
                Verdict.escalate,
                f"low confidence: {confidence:.2f} < min_confidence {s.min_confidence:.2f}",
            )
        if ctx.actions_taken + planned >= s.max_actions_per_incident:
            return verdict(
                Verdict.escalate,
                f"cap: {ctx.actions_taken + planned} actions already taken or planned in this "
                f"incident (max_actions_per_incident {s.max_actions_per_incident})",
            )
        try:
            spent = self._budget_spent(step.action)
        except (ActionClientError, httpx.HTTPError) as exc:
            return self._unreachable(step, exc)
        if spent:
            return verdict(Verdict.escalate, spent)
        rejected = self._dry_run(step, ctx)
        if rejected:
            return rejected
        if s.dry_run:
            return verdict(Verdict.allow, "dry-run mode: validated, will not change anything", True)
        if step.action in s.approval_required:
            return verdict(
                Verdict.needs_approval, f"{step.action} needs approval (risk {step.risk})"
            )
        return verdict(Verdict.allow, "catalogue action, within cap, budget and confidence")

    def _did_not_hold(self, fault: str, ctx: PolicyContext) -> str | None:
        s = self.settings
        if ctx.verify_failures >= 2:
            return f"fix did not hold: verification failed {ctx.verify_failures} times"
        if fault == "unknown":
            return None
        resolved = [
            i
            for i in self.store.recent_closed(fault, s.recurrence_window_s)
            if i.state == IncidentState.resolved and i.acted_at is not None
        ]
        if len(resolved) >= s.fix_failures_before_escalation:
            return (
                f"fix did not hold: {fault} was resolved by the agent {len(resolved)} times in "
                f"the last {s.recurrence_window_s:.0f} s and is back"
            )
        return None

    def _budget_spent(self, action: str) -> str | None:
        """Why `action` may not run again on its target now (None: within its budget)."""
        s = self.settings
        if s.same_action_max <= 0:
            return None
        target = self.targets().get(action, action)
        runs = self.store.recent_runs(action, target, s.same_action_window_s)
        if len(runs) < s.same_action_max:
            return None
        now = datetime.now(UTC)
        history = ", ".join(
            f"{r.incident_id} {(now - r.started_at).total_seconds():.0f} s ago"
            for r in runs[: s.same_action_max]
        )
        return (
            f"loop: {action} ran on {target} {len(runs)} times in the last "
            f"{s.same_action_window_s:.0f} s (same_action_max {s.same_action_max}): {history}"
        )

    def _dry_run(self, step: PlanStep, ctx: PolicyContext) -> PolicyDecision | None:
        """Let the action server validate the parameters and preconditions (changes nothing)."""
        for attempt in (1, 2):
            try:
                self.actions.act(
                    step.action, step.params, dry_run=True, correlation_id=ctx.incident_id
                )
                return None
            except ActionClientError as exc:
                if exc.status == 429 and attempt == 1:
                    time.sleep(min(exc.retry_after or 1.0, 10.0))
                    continue
                if exc.status in (404, 409, 422):
                    what = "parameters rejected" if exc.status == 422 else "refused"
                    return PolicyDecision(
                        step=step,
                        verdict=Verdict.refuse,
                        reason=f"dry run {what} by the action server ({exc.code}): {exc.detail}",
                    )
                return PolicyDecision(
                    step=step,
                    verdict=Verdict.escalate,
                    reason=f"dry run failed ({exc.status} {exc.code}); cannot validate the step",
                )
            except httpx.HTTPError as exc:
                return self._unreachable(step, exc)
        return None

    @staticmethod
    def _unreachable(step: PlanStep, exc: Exception) -> PolicyDecision:
        return PolicyDecision(
            step=step,
            verdict=Verdict.escalate,
            reason=f"action server unreachable: cannot validate the step ({type(exc).__name__})",
        )
