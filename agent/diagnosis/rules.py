"""Deterministic diagnosis: evidence features matched to runbook signals, plus retrieval.

Each runbook that covers a catalogue fault is scored against the perception's features:
- every `required` signal must hold, or the runbook is not a candidate at all;
- the signal score is the weighted share of its signals that hold (required ones included);
- a smaller retrieval term adds the runbook's similarity to the evidence text (its
  KnowledgeIndex match for `query_text(perception)`) and to past incidents of its fault.

confidence = SIGNAL_SHARE * signal score + RETRIEVAL_SHARE * retrieval, in [0, 1]. Each
hypothesis cites the signals that held (with the values seen) and the runbook passages and
past incidents behind it. When alerts fire but no runbook explains them well, an `unknown`
hypothesis (the unknown-symptoms runbook: escalate) is ranked by how poor the best fit is.
When no alert fires at all, what matches is the tail of a past episode (trends and log
lines still in the window), not a current symptom: every confidence is scaled down.
"""

from agent.model import Citation, Diagnosis, Hypothesis, Perception
from knowledge.retrieval import Match
from knowledge.runbook import Runbook, Signal

SIGNAL_SHARE = 0.85
RETRIEVAL_SHARE = 0.15
WELL_EXPLAINED = 0.5  # below this best confidence, firing alerts make `unknown` a candidate
UNKNOWN_CAP = 0.3  # "unknown" never outranks a real candidate's plausible confidence
NOTHING_FIRING = 0.3  # confidence factor when no alert fires: the evidence is history
UNKNOWN_RUNBOOK = "unknown-symptoms"
MAX_PASSAGES = 2


def query_text(perception: Perception) -> str:
    """The retrieval query: firing alerts, log signatures and a few log lines, as prose."""
    parts: list[str] = []
    for alert in perception.alerts:
        if alert.get("status") != "firing":
            continue
        labels = alert.get("labels") or {}
        name = alert.get("alertname") or labels.get("alertname", "")
        service = alert.get("service") or labels.get("service", "")
        summary = alert.get("summary") or (alert.get("annotations") or {}).get("summary", "")
        signature = labels.get("signature")
        parts.append(f"{name} on {service}" + (f" ({signature})" if signature else ""))
        if summary:
            parts.append(str(summary))
    signatures = sorted(
        (name.split(":", 2)[1], name.split(":", 2)[2], value)
        for name, value in perception.features.items()
        if name.startswith("log:") and isinstance(value, float) and value > 0
    )
    for service, signature, count in signatures:
        parts.append(f"{service} logs {signature.replace('_', ' ')} ({count:.0f} lines)")
    if parts:  # log lines only help along alerts; observability's own lines never do
        victims = [x for x in perception.log_lines if not x.startswith("observability:")]
        parts.extend(line[:200] for line in victims[-5:])
    return ". ".join(parts) if parts else "no alert firing, all services healthy"


def _signal_citation(signal: Signal, perception: Perception) -> Citation:
    seen = perception.features.get(signal.feature, "absent")
    condition = signal.feature if signal.op == "present" else f"{signal.feature} {signal.op}"
    if signal.value is not None:
        condition += f" {signal.value}"
    return Citation(
        kind="signal", ref=signal.feature, text=f"{condition} (seen: {seen})", score=signal.weight
    )


def _retrieval(book: Runbook, matches: list[Match]) -> tuple[float, list[Citation]]:
    """The runbook's retrieval similarity in [0, 1] and its cited passages / past incidents.

    A runbook left out of the top matches is at most as similar as the weakest runbook that
    made it: it gets that score (uncited), so being just outside the top k is not a penalty
    the size of the whole retrieval term.
    """
    citations: list[Citation] = []
    runbook_scores = [m.score for m in matches if m.kind == "runbook"]
    best = min(runbook_scores) if runbook_scores else 0.0
    for match in matches:
        if match.kind == "runbook" and match.id == book.id:
            best = max(best, match.score)
            citations.extend(
                Citation(
                    kind="runbook",
                    ref=f"{book.id}#{p.heading}",
                    text=p.text[:400],
                    score=p.score,
                )
                for p in match.passages[:MAX_PASSAGES]
            )
        elif match.kind == "incident" and _mentions(match, book):
            best = max(best, match.score * 0.9)  # a past incident of this fault, a bit less
            citations.append(
                Citation(kind="past_incident", ref=match.id, text=match.title, score=match.score)
            )
    if not any(c.kind == "runbook" for c in citations):
        citations.append(Citation(kind="runbook", ref=book.id, text=book.diagnosis[:400]))
    return min(1.0, max(0.0, best)), citations


def _mentions(match: Match, book: Runbook) -> bool:
    """Whether a past incident is one of the runbook's: by the fault its postmortem recorded
    when there is one (its text quotes alert names and log lines, which anyone can word),
    else by the runbook's faults named in it (a postmortem without a diagnosed fault)."""
    if match.fault:
        return match.fault in book.faults or match.fault == book.id
    text = " ".join([match.title, *(p.text for p in match.passages)])
    return any(fault in text for fault in book.faults) or book.id in text


def score_runbook(book: Runbook, perception: Perception, matches: list[Match]) -> Hypothesis | None:
    """The runbook's hypothesis, or None when a required signal does not hold."""
    features = perception.features
    held = [s for s in book.signals if s.holds(features)]
    if any(s.required and s not in held for s in book.signals) or not book.signals:
        return None
    total = sum(s.weight for s in book.signals) or 1.0
    share = sum(s.weight for s in held) / total
    retrieval, passages = _retrieval(book, matches)
    confidence = round(min(1.0, SIGNAL_SHARE * share + RETRIEVAL_SHARE * retrieval), 4)
    evidence = [_signal_citation(s, perception) for s in held if s.op != "absent"]
    named = ", ".join(c.ref for c in evidence[:4]) or "no positive signal"
    return Hypothesis(
        fault=book.faults[0],
        runbook_id=book.id,
        confidence=confidence,
        summary=f"{book.title}: {len(held)} of {len(book.signals)} signals hold ({named})",
        citations=evidence + passages,
    )


def _unknown(perception: Perception, best: float, runbooks: list[Runbook]) -> Hypothesis:
    firing = [n for n, v in perception.features.items() if n.startswith("alert:") and v is True]
    known = {book.id for book in runbooks}
    return Hypothesis(
        fault="unknown",
        runbook_id=UNKNOWN_RUNBOOK if UNKNOWN_RUNBOOK in known else None,
        confidence=round(min(UNKNOWN_CAP, 1.0 - best), 4),
        summary="alerts fire that no runbook explains well: a human should look",
        citations=[
            Citation(kind="signal", ref=name, text="firing") for name in sorted(firing)[:10]
        ],
    )


def diagnose(perception: Perception, runbooks: list[Runbook], matches: list[Match]) -> Diagnosis:
    """Ranked hypotheses for one perception (deterministic: same input, same answer)."""
    hypotheses = [
        h
        for book in runbooks
        if book.faults
        for h in [score_runbook(book, perception, matches)]
        if h is not None
    ]
    firing = perception.features.get("alerts:firing", 0.0)
    if not (isinstance(firing, float) and firing > 0):
        for h in hypotheses:
            h.confidence = round(h.confidence * NOTHING_FIRING, 4)
            h.summary += " (no alert firing: past evidence only)"
    hypotheses.sort(key=lambda h: (-h.confidence, h.fault))
    best = hypotheses[0].confidence if hypotheses else 0.0
    if isinstance(firing, float) and firing > 0 and best < WELL_EXPLAINED:
        hypotheses.append(_unknown(perception, best, runbooks))
        hypotheses.sort(key=lambda h: (-h.confidence, h.fault))
    notes = f"{len(hypotheses)} candidate(s) from {len(runbooks)} runbooks"
    if perception.errors:
        notes += f"; observability read errors: {'; '.join(perception.errors)[:500]}"
    return Diagnosis(hypotheses=hypotheses, mode="deterministic", notes=notes)
