"""Incidents that arrive as words (issue 17, part 3): which words, which candidates, and when
the agent acts on the lab's signals versus escalating with the candidates listed."""

from datetime import UTC, datetime

import pytest

from agent.diagnosis.text import TEXT_CANDIDATES, incident_text, judge, text_candidates
from agent.intake import parse_contract
from agent.model import Alert, Diagnosis, Hypothesis
from knowledge.retrieval import Match, Passage
from knowledge.runbook import load_runbooks

RUNBOOKS = load_runbooks()


def _alert(name: str, source: str = "alertmanager", **annotations: str) -> Alert:
    return Alert(
        fingerprint=f"fp-{name}",
        alertname=name,
        service="target",
        annotations=annotations,
        starts_at=datetime.now(UTC),
        source=source,
    )


def _match(doc: str, score: float, kind: str = "runbook", fault: str | None = None) -> Match:
    return Match(
        kind=kind,
        id=doc,
        title=doc,
        score=score,
        passages=[Passage(heading="Symptoms", text=f"{doc} text", score=score)],
        fault=fault,
    )


def _hypothesis(fault: str, confidence: float) -> Hypothesis:
    return Hypothesis(fault=fault, runbook_id=fault, confidence=confidence, summary=fault)


def test_a_contracts_title_and_description_are_its_words() -> None:
    intake = parse_contract(
        {
            "incident_id": "PD-1",
            "timestamp": "2026-12-06T08:00:00Z",
            "breached_slo": "checkout-availability",
            "container_info": {"name": "target"},
            "title": "Checkout down",
            "description": "Every order fails with connection refused from the pricing API.",
        }
    )
    words = incident_text(intake.alerts)
    assert words == (
        "Checkout down\nEvery order fails with connection refused from the pricing API."
    )


def test_an_untitled_contract_has_no_words_of_its_own() -> None:
    intake = parse_contract(
        {
            "incident_id": "PD-2",
            "timestamp": "2026-12-06T08:00:00Z",
            "breached_slo": "checkout-availability",
            "container_info": {"name": "target"},
        }
    )
    # its summary ("... breached on target") is made up by the intake, not what anyone wrote
    assert incident_text(intake.alerts) is None


def test_a_foreign_monitors_alert_brings_its_summary_and_description() -> None:
    alerts = [
        _alert("ServiceDown", summary="target is down"),  # the lab's own rule: not words
        _alert("DatadogCheckoutErrors", summary="Checkout 5xx", description="since 14:05"),
        _alert("DatadogCheckoutErrors2", summary="Checkout 5xx"),  # the same words once
    ]
    assert incident_text(alerts) == "Checkout 5xx\nsince 14:05"


def test_only_the_labs_own_alerts_have_no_words() -> None:
    assert incident_text([_alert("ServiceDown", summary="target is down")]) is None


def test_candidates_are_faults_best_first_without_general_runbooks() -> None:
    matches = [
        _match("general-triage", 0.9),  # names no fault
        _match("db-lock", 0.7),
        _match("inc-7", 0.65, kind="incident", fault="db-lock"),  # the same fault again
        _match("inc-8", 0.6, kind="incident", fault="db-down"),
        _match("db-pool-exhaustion", 0.5),
        _match("net-db-latency", 0.4),
    ]
    found = text_candidates(matches, RUNBOOKS)
    assert [h.fault for h in found] == ["db-lock", "db-down", "db-pool-exhaustion"]
    assert len(found) == TEXT_CANDIDATES
    assert all(h.confidence <= 0.45 for h in found)  # words alone stay under a signal's score


def test_signals_and_words_agreeing_act_on_the_signals() -> None:
    lab = Diagnosis(hypotheses=[_hypothesis("db-lock", 0.8), _hypothesis("db-down", 0.3)])
    candidates = text_candidates(
        [_match("db-pool-exhaustion", 0.6), _match("db-lock", 0.5)], RUNBOOKS
    )
    verdict = judge(lab, candidates, min_confidence=0.5)
    assert verdict.escalate is None
    assert verdict.diagnosis.best is not None and verdict.diagnosis.best.fault == "db-lock"
    assert "agrees" in verdict.diagnosis.notes


def test_signals_and_words_disagreeing_escalate_with_both() -> None:
    lab = Diagnosis(hypotheses=[_hypothesis("api-crash", 0.9)])
    candidates = text_candidates([_match("db-lock", 0.6), _match("db-down", 0.5)], RUNBOOKS)
    verdict = judge(lab, candidates, min_confidence=0.5)
    assert verdict.escalate is not None and "api-crash" in verdict.escalate
    assert verdict.candidates == ["api-crash", "db-lock", "db-down"]


def test_words_alone_escalate_with_their_candidates() -> None:
    candidates = text_candidates([_match("upstream-outage", 0.6)], RUNBOOKS)
    weak = Diagnosis(hypotheses=[_hypothesis("upstream-outage", 0.3)])  # under min_confidence
    for lab in (Diagnosis(), weak):
        verdict = judge(lab, candidates, min_confidence=0.5)
        assert verdict.escalate is not None and "text only" in verdict.escalate
        assert verdict.candidates == ["upstream-outage"]


def test_an_unknown_best_is_no_backing() -> None:
    lab = Diagnosis(hypotheses=[_hypothesis("unknown", 0.7)])
    candidates = text_candidates([_match("disk-fill", 0.5)], RUNBOOKS)
    verdict = judge(lab, candidates, min_confidence=0.5)
    assert verdict.escalate is not None and verdict.candidates == ["disk-fill"]


@pytest.mark.parametrize("words", [[], [_match("general-triage", 0.9)]])
def test_words_that_match_nothing_still_escalate(words: list[Match]) -> None:
    verdict = judge(Diagnosis(), text_candidates(words, RUNBOOKS), min_confidence=0.5)
    assert verdict.escalate is not None and "match no runbook" in verdict.escalate
    assert verdict.candidates == []
