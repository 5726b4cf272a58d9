"""Plan: the ordered catalogue actions of a hypothesis's runbook, and how to verify them.

Deterministic: the steps are the runbook's `actions` (parameters and risk as written), the
verification its `verify_signals` (features that must clear) plus the health of the target
and of every service those signals are about. A
hypothesis with no runbook (an unknown fault, a general runbook with no action) gets a
single `escalate` step: nothing is done to the system that the evidence does not justify.
"""

import re

from agent.model import Hypothesis, Plan, PlanStep, Verification
from knowledge.runbook import Runbook

# A verify signal naming a service: `alert:<Name>:<service>[:...]`, `svc:<service>:...`.
_SERVICE = re.compile(r"^(?:alert:[A-Za-z0-9]+|svc|probe):(?P<service>[a-z0-9][a-z0-9-]*)(?::|$)")


def runbook_for(hypothesis: Hypothesis, runbooks: list[Runbook]) -> Runbook | None:
    """The hypothesis's runbook: by id, else the first one listing its fault."""
    by_id = {book.id: book for book in runbooks}
    if hypothesis.runbook_id and hypothesis.runbook_id in by_id:
        return by_id[hypothesis.runbook_id]
    return next((book for book in runbooks if hypothesis.fault in book.faults), None)


def escalation_step(hypothesis: Hypothesis, why: str) -> PlanStep:
    """Page a human with the diagnosis (the action server's escalate needs a summary)."""
    summary = f"{hypothesis.fault} (confidence {hypothesis.confidence:.2f}): {hypothesis.summary}"
    return PlanStep(
        action="escalate",
        params={"summary": summary[:2000], "severity": "critical"},
        risk="low",
        why=why,
    )


def health_services(signals: list[str]) -> list[str]:
    """`target` plus every service a verify signal is about: each must be healthy again."""
    found = ["target"]
    for signal in signals:
        match = _SERVICE.match(signal)
        if match and match.group("service") not in found:
            found.append(match.group("service"))
    return found


def plan_for(
    hypothesis: Hypothesis, runbooks: list[Runbook], *, hold_s: float, timeout_s: float
) -> Plan:
    """The plan for one hypothesis (see the module docstring)."""
    book = runbook_for(hypothesis, runbooks)
    if book is None or not book.actions:
        why = (
            f"no runbook covers {hypothesis.fault!r}"
            if book is None
            else f"runbook {book.id} prescribes no action: a human decides"
        )
        return Plan(
            hypothesis=hypothesis,
            steps=[escalation_step(hypothesis, why)],
            verification=Verification(signals=[], health=[], hold_s=hold_s, timeout_s=timeout_s),
        )
    steps = []
    for action in book.actions:
        if action.action == "escalate":
            step = escalation_step(hypothesis, action.why or f"runbook {book.id}")
            step.params.update(action.params)
            steps.append(step)
        else:
            steps.append(
                PlanStep(
                    action=action.action,
                    params=dict(action.params),
                    risk=action.risk,
                    why=action.why or f"runbook {book.id}",
                )
            )
    only_escalates = all(step.action == "escalate" for step in steps)
    verification = Verification(
        signals=[] if only_escalates else list(book.verify_signals),
        health=[] if only_escalates else health_services(book.verify_signals),
        hold_s=hold_s,
        timeout_s=timeout_s,
    )
    return Plan(hypothesis=hypothesis, steps=steps, verification=verification)
