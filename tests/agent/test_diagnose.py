"""Deterministic diagnosis and plans, on real evidence recorded from a live lab.

Every fixture in tests/agent/fixtures/evidence/ is what observability answered while one
catalogue fault was injected into a live lab (scripts/record_evidence.py), or a steady lab
(noop). These fast unit tests check that the shipped runbooks' signals put the right fault
first with a confidence that separates it from the rest, that a steady lab yields nothing
worth acting on, and that each hypothesis becomes the catalogue's correct plan. Retrieval is
the real KnowledgeIndex over the shipped runbooks (local MiniLM embeddings, offline).
"""

from pathlib import Path

import pytest

from agent.config import Settings
from agent.diagnosis.rules import diagnose, query_text
from agent.features import derived_features
from agent.model import HIGH_RISK_ACTIONS, Diagnosis, Hypothesis, Perception
from agent.plan import plan_for
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import Match, Passage
from knowledge.runbook import Runbook, load_runbooks
from tests.support.evidence import fixture_names, load_perception, recorded

CONFIDENT = 0.6  # the right fault's confidence at least this
MARGIN = 0.15  # and the runner-up at least this much lower
QUIET = 0.3  # a steady lab: no hypothesis above this

# ARCHITECTURE.md, Fault catalogue: the correct response to each fault.
CORRECT: dict[str, tuple[str, dict[str, str]]] = {
    "api-crash": ("restart-api", {}),
    "api-hang": ("restart-api", {}),
    "api-memory-leak": ("restart-api", {}),
    "api-cpu-hog": ("restart-api", {}),
    "api-error-storm": ("restart-api", {}),
    "api-latency": ("restart-api", {}),
    "upstream-outage": ("switch-to-fallback", {"dependency": "pricing"}),
    "upstream-dns": ("switch-to-fallback", {"dependency": "pricing"}),
    "db-down": ("restart-db", {}),
    "db-lock": ("terminate-db-blockers", {}),
    "db-pool-exhaustion": ("terminate-db-blockers", {}),
    "db-auth-failure": ("regenerate-env", {}),
    "db-data-loss": ("restore-db", {}),
    "schema-drift": ("run-migrations", {}),
    "disk-fill": ("clear-cache", {}),
    "cache-corruption": ("clear-cache", {}),
    "config-drift": ("rollback-config", {}),
    "net-db-latency": ("switch-to-fallback", {"dependency": "db"}),
    "net-db-partition": ("escalate", {}),
}
FAULT_SAMPLES = [n for n in fixture_names() if not n.startswith("noop")]
RANKED_SAMPLES = FAULT_SAMPLES
QUIET_SAMPLES = [n for n in fixture_names() if n.startswith("noop")]


@pytest.fixture(scope="module")
def runbooks() -> list[Runbook]:
    return load_runbooks()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    knowledge = KnowledgeIndex(tmp_path_factory.mktemp("knowledge"), embedding="minilm")
    knowledge.ensure()
    return knowledge


def matches_for(index: KnowledgeIndex, perception: Perception) -> list[Match]:
    return index.query(query_text(perception), k=5)


def test_every_catalogue_fault_has_one_runbook_with_the_correct_first_action(
    runbooks: list[Runbook],
) -> None:
    covering = {fault: [b.id for b in runbooks if fault in b.faults] for fault in CORRECT}
    assert all(len(ids) == 1 for ids in covering.values()), covering
    for book in runbooks:
        for action in book.actions:
            if action.action in HIGH_RISK_ACTIONS:
                assert action.risk == "high", f"{book.id}: {action.action} must be high risk"
    general = {b.id for b in runbooks if not b.faults}
    assert {"general-triage", "escalation-policy", "unknown-symptoms"} <= general


def test_every_catalogue_fault_was_recorded() -> None:
    assert {recorded(n)["meta"]["fault"] for n in FAULT_SAMPLES} == set(CORRECT)


@pytest.mark.parametrize("sample", RANKED_SAMPLES)
def test_the_recorded_fault_ranks_first_and_clearly_ahead(
    sample: str, runbooks: list[Runbook], index: KnowledgeIndex
) -> None:
    fault = recorded(sample)["meta"]["fault"]
    perception = load_perception(sample)
    diagnosis = diagnose(perception, runbooks, matches_for(index, perception))
    ranked = [(h.fault, h.confidence) for h in diagnosis.hypotheses]
    best = diagnosis.best
    assert best is not None and best.fault == fault, ranked
    assert best.confidence >= CONFIDENT, ranked
    if len(diagnosis.hypotheses) > 1:
        assert diagnosis.hypotheses[1].confidence <= best.confidence - MARGIN, ranked
    kinds = {c.kind for c in best.citations}
    assert "signal" in kinds and "runbook" in kinds, best.citations
    assert all(c.text for c in best.citations if c.kind == "signal")


@pytest.mark.parametrize("sample", ["config-drift", "config-drift.late"])
def test_config_drift_is_not_taken_for_a_crash(sample: str, runbooks: list[Runbook]) -> None:
    """Both leave the target down; the start-up refusal in its log (config_invalid) tells
    them apart, so restart-api (which cannot help) is not the first thing tried."""
    diagnosis = diagnose(load_perception(sample), runbooks, [])
    faults = [h.fault for h in diagnosis.hypotheses]
    assert faults[0] == "config-drift" and "api-crash" not in faults[:1], faults


def actionable(diagnosis: Diagnosis, runbooks: list[Runbook]) -> list[tuple[str, float]]:
    """The hypotheses the agent would act on: confident enough, and planning more than an
    escalation."""
    floor = Settings.model_fields["min_confidence"].default
    return [
        (h.fault, h.confidence)
        for h in diagnosis.hypotheses
        if h.confidence >= floor
        and any(s.action != "escalate" for s in plan_for(h, runbooks, hold_s=1, timeout_s=1).steps)
    ]


@pytest.mark.parametrize("sample", ["api-error-storm", "api-error-storm.late"])
def test_500s_while_the_database_fails_its_probe_are_not_an_error_storm(
    sample: str, runbooks: list[Runbook]
) -> None:
    """The 500s of an error storm, and the database's probe alert firing (a backend killed by
    the OOM killer: Postgres restarts every session and answers again seconds later). The
    database explains the 500s; restarting the API is no fix and nothing else fits."""
    perception = load_perception(sample)
    perception.features |= {
        "alert:ProbeFailing:target-db": True,
        "alert:ProbeFailing:target-db:health": True,
    }
    diagnosis = diagnose(perception, runbooks, [])
    assert "api-error-storm" not in [h.fault for h in diagnosis.hypotheses]
    assert actionable(diagnosis, runbooks) == [], diagnosis.hypotheses


@pytest.mark.parametrize("sample", ["net-db-latency", "net-db-latency.late"])
def test_a_db_path_whose_proxy_accepts_nothing_is_not_latency(
    sample: str, runbooks: list[Runbook]
) -> None:
    """A slow DB path's evidence (the pool full, timeouts), but the proxy fails its TCP probe:
    a firewall drops the path's packets. Not latency to route around: a partition, which a
    human handles."""
    perception = load_perception(sample)
    perception.features |= {
        "probe:db-proxy:up": False,
        "alert:ProbeFailing:db-proxy": True,
        "alert:ProbeFailing:db-proxy:health": True,
    }
    perception.features |= derived_features(perception.features)
    diagnosis = diagnose(perception, runbooks, [])
    assert "net-db-latency" not in [h.fault for h in diagnosis.hypotheses]
    assert actionable(diagnosis, runbooks) == [], diagnosis.hypotheses
    assert diagnosis.best is not None and diagnosis.best.fault == "net-db-partition"


@pytest.mark.parametrize("sample", QUIET_SAMPLES)
def test_a_steady_lab_yields_nothing_worth_acting_on(
    sample: str, runbooks: list[Runbook], index: KnowledgeIndex
) -> None:
    perception = load_perception(sample)
    diagnosis = diagnose(perception, runbooks, matches_for(index, perception))
    assert all(h.confidence <= QUIET for h in diagnosis.hypotheses), diagnosis.hypotheses


def test_the_diagnosis_is_deterministic(runbooks: list[Runbook]) -> None:
    perception = load_perception("db-lock")
    assert diagnose(perception, runbooks, []) == diagnose(perception, runbooks, [])


def test_retrieval_cites_the_matched_passages_and_past_incidents(runbooks: list[Runbook]) -> None:
    """Hand-made matches: the runbook's own passage and a past incident of the same fault."""
    perception = load_perception("db-lock")
    without = diagnose(perception, runbooks, []).best
    matches = [
        Match(
            kind="runbook",
            id="db-lock",
            title="lock",
            score=0.8,
            passages=[Passage(heading="Symptoms", text="sessions wait on a lock", score=0.8)],
        ),
        Match(kind="incident", id="inc-7", title="db-lock on products", score=0.7),
        Match(kind="incident", id="inc-9", title="disk-fill on cache", score=0.9),
    ]
    best = diagnose(perception, runbooks, matches).best
    assert best is not None and without is not None and best.fault == "db-lock"
    assert best.confidence > without.confidence
    refs = {(c.kind, c.ref) for c in best.citations}
    assert ("runbook", "db-lock#Symptoms") in refs
    assert ("past_incident", "inc-7") in refs and ("past_incident", "inc-9") not in refs


def test_alerts_no_runbook_explains_rank_unknown_first(runbooks: list[Runbook]) -> None:
    perception = Perception.model_validate(
        {
            "taken_at": "2026-01-01T00:00:00Z",
            "features": {"alerts:firing": 1.0, "alert:Mystery:target": True},
        }
    )
    diagnosis = diagnose(perception, runbooks, [])
    assert diagnosis.best is not None and diagnosis.best.fault == "unknown"
    assert diagnosis.best.runbook_id == "unknown-symptoms"
    plan = plan_for(diagnosis.best, runbooks, hold_s=10, timeout_s=60)
    assert [s.action for s in plan.steps] == ["escalate"]


def test_the_query_text_names_the_alerts_and_log_signatures() -> None:
    text = query_text(load_perception("db-lock"))
    assert "DbBlockedSessions on target-db" in text
    assert query_text(load_perception("noop")) == "no alert firing, all services healthy"


@pytest.mark.parametrize("fault", list(CORRECT))
def test_each_fault_plans_the_catalogue_response(fault: str, runbooks: list[Runbook]) -> None:
    hypothesis = Hypothesis(fault=fault, confidence=0.9, summary=f"{fault} seen")
    plan = plan_for(hypothesis, runbooks, hold_s=12.0, timeout_s=90.0)
    action, params = CORRECT[fault]
    first = plan.steps[0]
    assert first.action == action
    assert params.items() <= first.params.items()
    assert first.risk == ("high" if action in HIGH_RISK_ACTIONS else first.risk)
    assert plan.verification.hold_s == 12.0 and plan.verification.timeout_s == 90.0
    if action == "escalate":
        assert [s.action for s in plan.steps] == ["escalate"]  # nothing destructive
        assert first.params["summary"].startswith(fault)
        assert plan.verification.signals == []
    else:
        assert plan.verification.signals, f"{fault}: nothing to verify"
        assert "target" in plan.verification.health


def test_a_fault_without_a_runbook_plans_an_escalation(runbooks: list[Runbook]) -> None:
    hypothesis = Hypothesis(fault="printer-on-fire", confidence=0.9, summary="smoke")
    plan = plan_for(hypothesis, runbooks, hold_s=5.0, timeout_s=30.0)
    assert [s.action for s in plan.steps] == ["escalate"]
    assert "no runbook covers" in plan.steps[0].why


def test_db_faults_verify_the_database_health_too(runbooks: list[Runbook]) -> None:
    hypothesis = Hypothesis(fault="db-down", confidence=0.9, summary="down")
    plan = plan_for(hypothesis, runbooks, hold_s=5.0, timeout_s=30.0)
    assert plan.verification.health == ["target", "target-db"]


def test_fixtures_stay_small() -> None:
    for path in Path(__file__).parent.joinpath("fixtures", "evidence").glob("*.json"):
        assert path.stat().st_size < 200_000, path.name
