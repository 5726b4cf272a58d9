"""Incidents that arrive as words: the incident contract's title and description, or an alert
from a foreign monitor (a name no lab rule has) with its summary and description.

Such an incident is diagnosed from retrieval on its text together with whatever the lab's own
signals show. The agent acts only when both point the same way: the signals' best hypothesis
is confident and is among the faults the text retrieves. Otherwise (no lab evidence, a weak
one, or the two disagree) it escalates with the candidates listed, best first, rather than
act on words alone.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from agent.explained import lab_rule_names
from agent.model import Alert, Citation, Diagnosis, Hypothesis
from agent.store.models import AlertRecord
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

TEXT_CANDIDATES = 3  # how many retrieved faults the text names: its top three
# A text candidate's confidence is its retrieval similarity, capped: words alone never reach
# what a confident signal-backed hypothesis scores.
TEXT_CONFIDENCE_CAP = 0.45
_FOREIGN_KEYS = ("summary", "description", "message")
_CONTRACT_KEYS = ("title", "description")  # a contract's summary is made up when untitled


def incident_text(alerts: Iterable[AlertRecord | Alert]) -> str | None:
    """The words the incident came with (None when every alert is the lab's own)."""
    lab_rules = lab_rule_names()
    pieces: list[str] = []
    for alert in alerts:
        if alert.alertname in lab_rules:
            continue
        keys = _CONTRACT_KEYS if alert.source == "incident" else _FOREIGN_KEYS
        for key in keys:
            value = (alert.annotations.get(key) or "").strip()
            if value and value not in pieces:
                pieces.append(value)
    return "\n".join(pieces) if pieces else None


def text_candidates(matches: list[Match], runbooks: list[Runbook]) -> list[Hypothesis]:
    """The faults the text retrieves, best first (runbooks and past incidents of a fault;
    general runbooks name no fault and are skipped), at most TEXT_CANDIDATES of them."""
    by_id = {book.id: book for book in runbooks}
    found: dict[str, Hypothesis] = {}
    for rank, match in enumerate(matches, start=1):
        book = by_id.get(match.id) if match.kind == "runbook" else None
        fault = (book.faults[0] if book and book.faults else None) or match.fault
        if fault is None or fault in found:
            continue
        passage = match.passages[0].text if match.passages else match.title
        found[fault] = Hypothesis(
            fault=fault,
            runbook_id=book.id if book else None,
            confidence=round(min(TEXT_CONFIDENCE_CAP, max(0.0, match.score)), 4),
            summary=f"the incident's text retrieves {match.kind} {match.id} (rank {rank})",
            citations=[
                Citation(
                    kind="runbook" if match.kind == "runbook" else "past_incident",
                    ref=match.id,
                    text=passage[:400],
                    score=match.score,
                )
            ],
        )
        if len(found) == TEXT_CANDIDATES:
            break
    return list(found.values())


@dataclass(frozen=True)
class TextVerdict:
    """What to do with a text-bearing incident: act on `diagnosis`, or escalate (`reason`)."""

    diagnosis: Diagnosis
    escalate: str | None = None

    @property
    def candidates(self) -> list[str]:
        return [h.fault for h in self.diagnosis.hypotheses]


def judge(lab: Diagnosis, candidates: list[Hypothesis], min_confidence: float) -> TextVerdict:
    """Act on the lab's diagnosis when its best is confident and the text retrieves it;
    otherwise escalate with the candidates (the lab's best first when it has one)."""
    named = [h.fault for h in candidates]
    best = lab.best
    if best is not None and (best.fault == "unknown" or best.confidence < min_confidence):
        best = None  # no backing from the lab's signals
    if best is not None and best.fault in named:
        note = f"; the incident's text agrees: {', '.join(named)}"
        return TextVerdict(lab.model_copy(update={"notes": lab.notes + note}))
    if best is not None:
        listed = [best, *candidates]  # best is not among them (else it would have acted)
        reason = (
            f"the lab's signals point to {best.fault} ({best.confidence:.2f}) but the incident's"
            f" text to {', '.join(named) or 'no runbook'}: a human should decide"
        )
    elif candidates:
        listed = candidates
        reason = (
            "text only, no lab signal confirms it: candidates from the incident's text are "
            + ", ".join(named)
        )
    else:
        listed = []
        reason = "text only: the incident's words match no runbook and no lab signal fires"
    notes = f"{lab.notes}; escalated with candidates: {', '.join(h.fault for h in listed)}"
    return TextVerdict(Diagnosis(hypotheses=listed, mode=lab.mode, notes=notes), reason)
