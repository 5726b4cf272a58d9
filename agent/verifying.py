"""The verifying step: the last fix verified (agent/verify.py) and what follows from it.

Passed: resolved and closed. Partial (the fix held, alerts no fix explains still fire):
back to diagnosing for the rest, no failure counted. Failed: diagnosing again for a fresh
look, and after the second failure escalated ("the fix did not hold").
"""

import threading
from typing import Any

from agent.claims import claimed_elsewhere
from agent.closing import Closing
from agent.explained import disrupted_alerts, explained_alerts
from agent.model import IncidentState, Plan
from agent.pipeline_types import Knowledge, Observability
from agent.store import IncidentStore
from agent.store.models import Incident
from agent.verify import routed_around, routed_around_now, verify

S = IncidentState


class Verifying:
    """The step an IncidentPipeline runs for incidents in `verifying`."""

    def __init__(
        self,
        *,
        store: IncidentStore,
        observability: Observability,
        knowledge: Knowledge,
        closing: Closing,
        stop: threading.Event,
        partial_hold_s: float | None = None,
    ) -> None:
        self.store, self.obs, self.knowledge = store, observability, knowledge
        self.closing, self._stop = closing, stop
        self.partial_hold_s = partial_hold_s

    def __call__(self, incident: Incident) -> bool:
        """Verify the last plan's fix: False when the incident closed, True to go on."""
        plan = Plan.model_validate(incident.plans[-1])
        result = verify(
            self.obs,
            alertnames=incident.alertnames,
            verification=plan.verification,
            stop=self._stop,
            routed_around=routed_around(plan) | self._routed_around_before(incident.id),
            explained=self._explained(incident, plan),
            elsewhere=lambda: self._explained_elsewhere(incident.id),
            partial_hold_s=self.partial_hold_s,
        )
        if result.stopped:
            return False
        runs = [*(incident.verification.get("runs") or []), result.model_dump(mode="json")]
        if result.passed:
            outcome = "verified: health ok and signals cleared"
        elif result.partial:
            outcome = (
                f"the fix for {plan.hypothesis.fault} held; still firing, unexplained: "
                + "; ".join(result.still_failing)[:300]
            )
        else:
            outcome = "not verified: " + "; ".join(result.still_failing)[:300]
        self.store.update(incident.id, verification={"runs": runs, "outcome": outcome})
        outputs = {**result.model_dump(mode="json"), "outcome": outcome}
        inputs = {"alertnames": incident.alertnames, **plan.verification.model_dump()}
        if result.passed:
            self.store.update(incident.id, mitigated_at=result.mitigated_at)
            self.store.transition(
                incident.id, S.resolved, step="verify", inputs=inputs, outputs=outputs
            )
            self.closing.close(incident.id)
            return False
        if result.partial:  # another fault: diagnose what is left, no failure counted
            self.store.transition(
                incident.id, S.diagnosing, step="verify:partial", inputs=inputs, outputs=outputs
            )
            return True
        failures = verify_failures(runs)
        if failures < 2:
            # Look again before the next try, even when the first look had no other candidate:
            # the evidence may say more now (an alert with a duration has fired since).
            self.store.transition(
                incident.id, S.diagnosing, step="verify", inputs=inputs, outputs=outputs
            )
            return True
        self.store.add_event(incident.id, "verify", inputs, outputs)
        self.closing.escalate(
            incident.id, f"the fix did not hold ({failures} failed verification(s))"
        )
        return False

    def _explained(self, incident: Incident, plan: Plan) -> frozenset[str] | None:
        """The alerts the faults fixed so far explain; None (no partial result) when this
        plan's fault explains none of the incident's alerts: a guess that missed fails."""
        books = self.knowledge.runbooks
        if not explained_alerts([plan.hypothesis.fault], books) & set(incident.alertnames):
            return None
        done = [Plan.model_validate(p) for p in incident.plans]
        faults = explained_alerts([p.hypothesis.fault for p in done], books)
        return faults | disrupted_alerts(s.action for p in done for s in p.steps)

    def _routed_around_before(self, incident_id: str) -> frozenset[str]:
        """What the incident's earlier switches (that succeeded) route around."""
        return routed_around_now(
            (a.action, a.params, a.status == "succeeded" and not a.dry_run)
            for a in self.store.actions(incident_id)
        )

    def _explained_elsewhere(self, incident_id: str) -> frozenset[str]:
        """The alerts the faults other open incidents are fixing explain."""
        faults = claimed_elsewhere(self.store, incident_id)
        return explained_alerts(faults, self.knowledge.runbooks) if faults else frozenset()


def verify_failures(runs: list[dict[str, Any]]) -> int:
    """Verifications that failed (a partial one held: another fault, not a failure)."""
    return sum(1 for r in runs if not r.get("passed") and not r.get("partial"))
