"""The crew's task texts. The evidence and the top retrieval matches are written into them,
so the crew can reason even when the model calls no tool."""

import json
from typing import Any

from agent.model import CATALOGUE_ACTIONS, Perception
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

_EVIDENCE_MAX = 6000
_PASSAGE_MAX = 600

ANSWER_FORMAT = (
    """Answer with ONE JSON object and nothing else (no prose, no code fence):
{"hypotheses": [{"fault": "<catalogue fault id or unknown>", "runbook_id": "<runbook id or null>",
  "confidence": <0..1>, "summary": "<one or two sentences>",
  "citations": [{"kind": "feature|signal|runbook|past_incident|log|trace", "ref": "<name or id>",
                 "text": "<what it shows>"}]}],
 "plans": [{"fault": "<the hypothesis' fault>",
   "steps": [{"action": "<catalogue action>", "params": {}, "risk": "low|medium|high",
              "why": "<reason>"}],
   "verification": {"signals": ["<feature or alert that must clear>"], "health": ["target"],
                    "hold_s": <seconds>, "timeout_s": <seconds>}}]}
Hypotheses best first. Actions ONLY from: """
    + ", ".join(CATALOGUE_ACTIONS)
    + """.
Parameters only those the action takes (see the runbooks or the action catalogue).
When no runbook fits or the evidence is too weak, plan a single "escalate" step."""
)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ...(truncated)"


def evidence_text(perception: Perception) -> str:
    """The perception as compact text: features, firing alerts, log lines, read errors."""
    alerts = [
        {k: a.get(k) for k in ("alertname", "service", "severity", "status", "summary") if k in a}
        for a in perception.alerts
    ]
    doc: dict[str, Any] = {
        "taken_at": perception.taken_at.isoformat(),
        "features": perception.features,
        "alerts": alerts,
        "log_lines": perception.log_lines[-20:],
        "trace_ids": perception.trace_ids[:10],
        "read_errors": perception.errors,
    }
    return _clip(json.dumps(doc, default=str, indent=1), _EVIDENCE_MAX)


def matches_text(matches: list[Match]) -> str:
    """The retrieval matches with their best passages."""
    if not matches:
        return "(retrieval found nothing)"
    lines = []
    for m in matches:
        lines.append(f'- {m.kind} {m.id} "{m.title}" score={m.score:.3f}')
        for p in m.passages[:2]:
            lines.append(f"    [{p.heading}] {_clip(p.text, _PASSAGE_MAX)}")
    return "\n".join(lines)


def runbooks_text(runbooks: list[Runbook]) -> str:
    """Each runbook's id, faults, actions with parameters, and verification signals."""
    lines = []
    for book in runbooks:
        actions = (
            "; ".join(f"{a.action} {json.dumps(a.params)} ({a.risk})" for a in book.actions)
            or "none"
        )
        lines.append(
            f"- {book.id}: faults={book.faults or ['general']} actions: {actions}; "
            f"verify_signals={book.verify_signals}"
        )
    return "\n".join(lines) or "(no runbooks)"


def perception_task(perception: Perception) -> str:
    return (
        "Summarise what is wrong in the lab from this evidence (you may read more with your "
        "tools). Name the affected services, the abnormal features and the firing alerts.\n\n"
        f"EVIDENCE:\n{evidence_text(perception)}"
    )


def diagnosis_task(matches: list[Match], runbooks: list[Runbook]) -> str:
    return (
        "Rank the likely faults behind the symptoms, best first, each with a confidence in "
        "[0, 1], the runbook that covers it, and citations of the evidence features and the "
        "runbook passages it rests on.\n\n"
        f"RETRIEVAL MATCHES:\n{matches_text(matches)}\n\nRUNBOOKS:\n{runbooks_text(runbooks)}"
    )


def planning_task() -> str:
    return (
        "For each hypothesis, plan the ordered catalogue actions of its runbook with their "
        "parameters and risk, and the verification that proves the fix (the signals that "
        "must clear, services that must be healthy). You may dry-run actions; never invent "
        "an action or a parameter.\n\n" + ANSWER_FORMAT
    )


def verification_task(error_note: str | None) -> str:
    text = (
        "Check the hypotheses and plans against the evidence and the catalogue, fix what is "
        "wrong, and give the final answer.\n\n" + ANSWER_FORMAT
    )
    if error_note:
        text += (
            "\n\nYOUR PREVIOUS ANSWER WAS REJECTED: " + error_note + "\nCorrect it and answer "
            "again with the JSON object only."
        )
    return text
