"""Human approval of a plan: the request stored on the incident, the answer, the deadline.

The request lives in the incident's `approval` field (ops-db), not in a waiting thread, so
no worker is held while a human thinks and a restarted agent still knows what it asked and
until when. No answer by the deadline counts as a denial.
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agent.api.errors import NotAwaitingApproval
from agent.model import IncidentState, Plan, PolicyDecision, Verdict
from agent.notify import Message, Notifier
from agent.store.models import Incident

if TYPE_CHECKING:
    from agent.store import IncidentStore

Status = Literal["pending", "granted", "denied", "timed_out"]
NO_ANSWER = "denied: no answer in time"
__all__ = [
    "NO_ANSWER",
    "Approval",
    "NotAwaitingApproval",
    "decide",
    "load",
    "message",
    "ask",
    "request",
]


class Approval(BaseModel):
    """What was asked (which plan, which steps), until when, and the answer."""

    status: Status = "pending"
    plan_index: int = 0
    steps: list[str] = Field(default_factory=list)  # the actions that need the approval
    requested_at: datetime
    deadline: datetime
    by: str | None = None
    note: str | None = None
    decided_at: datetime | None = None
    notified: list[str] = Field(default_factory=list)  # receivers it was delivered to
    not_delivered: list[str] = Field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def expired(self, now: datetime | None = None) -> bool:
        """A pending request past its deadline."""
        return self.pending and (now or datetime.now(UTC)) >= self.deadline


def request(
    *, plan_index: int, decisions: list[PolicyDecision], timeout_s: float, now: datetime
) -> Approval:
    """A pending request for the steps the policy said need a human."""
    return Approval(
        plan_index=plan_index,
        steps=[d.step.action for d in decisions if d.verdict == Verdict.needs_approval],
        requested_at=now,
        deadline=now + timedelta(seconds=timeout_s),
    )


def load(raw: dict[str, Any] | None) -> Approval | None:
    """The stored request, if any."""
    return Approval.model_validate(raw) if raw else None


def decide(
    current: Approval | None, *, granted: bool, by: str, note: str | None, now: datetime
) -> Approval:
    """The answer to a pending request; NotAwaitingApproval when there is none to answer."""
    if current is None or not current.pending:
        state = "none was asked" if current is None else f"it was already {current.status}"
        raise NotAwaitingApproval(f"no approval is pending for this incident ({state})")
    if current.expired(now):
        raise NotAwaitingApproval("the approval request expired; the incident is escalating")
    return current.model_copy(
        update={
            "status": "granted" if granted else "denied",
            "by": by,
            "note": note,
            "decided_at": now,
        }
    )


def time_out(current: Approval, *, now: datetime) -> Approval:
    """A pending request whose deadline passed: denied, by nobody."""
    return current.model_copy(update={"status": "timed_out", "note": NO_ANSWER, "decided_at": now})


def message(
    *,
    incident_id: str,
    title: str,
    plan: Plan,
    decisions: list[PolicyDecision],
    approval: Approval,
    evidence: list[str],
    base_url: str,
) -> Message:
    """What a human needs to decide: the hypothesis, its evidence, the steps and the links."""
    best = plan.hypothesis
    steps = "\n".join(
        f"{n}. {d.step.action} {d.step.params or ''} (risk {d.step.risk}; {d.verdict}: {d.reason})"
        for n, d in enumerate(decisions, 1)
    )
    root = f"{base_url.rstrip('/')}/incidents/{incident_id}"
    return Message(
        kind="approval",
        incident_id=incident_id,
        summary=(
            f"{title}\nProposed: {', '.join(s.action for s in plan.steps)} for "
            f"*{best.fault}* (confidence {best.confidence:.2f}). {best.summary}"
        )[:4000],
        fields={
            "hypothesis": f"{best.fault} ({best.confidence:.2f}), runbook {best.runbook_id}",
            "steps": steps or "none",
            "evidence": "\n".join(evidence[:8]) or "none recorded",
            "needs approval": ", ".join(approval.steps),
            "deadline": approval.deadline.isoformat(timespec="seconds"),
            "how": f"POST {root}/approve or {root}/deny with your approver token",
        },
        links={"Approve": f"{root}/approve", "Deny": f"{root}/deny"},
    )


def ask(
    *,
    store: "IncidentStore",
    notifier: Notifier,
    incident: Incident,
    plan: Plan,
    decisions: list[PolicyDecision],
    plan_index: int,
    timeout_s: float,
    base_url: str,
) -> Approval:
    """Store the request, move the incident to awaiting_approval, then tell the humans."""
    pending = request(
        plan_index=plan_index, decisions=decisions, timeout_s=timeout_s, now=datetime.now(UTC)
    )
    features = (incident.diagnosis.get("evidence") or {}).get("features") or {}
    text = message(
        incident_id=incident.id,
        title=incident.title,
        plan=plan,
        decisions=decisions,
        approval=pending,
        evidence=[f"{k}={v}" for k, v in sorted(features.items())],
        base_url=base_url,
    )
    store.update(incident.id, approval=pending.model_dump(mode="json"))
    store.transition(
        incident.id,
        IncidentState.awaiting_approval,
        step="approval:request",
        inputs={"plan": plan_index, "steps": pending.steps},
        outputs={"deadline": pending.deadline.isoformat(), "reason": "needs approval"},
    )
    delivery = notifier.send(text)
    pending = pending.model_copy(
        update={"notified": delivery.delivered, "not_delivered": delivery.failed}
    )
    store.update(incident.id, approval=pending.model_dump(mode="json"))
    store.add_event(
        incident.id, "notify:approval", {"receivers": notifier.receivers}, delivery.model_dump()
    )
    return pending
