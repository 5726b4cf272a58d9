"""The runbooks shipped in knowledge/runbooks: all parse, every catalogue fault is covered,
and the index over them finds each fault's runbook by its on-call description."""

from pathlib import Path

import pytest

from chaos_server.faults import build_catalogue
from knowledge.index import KnowledgeIndex
from knowledge.runbook import RUNBOOK_DIR, load_runbooks

# ARCHITECTURE.md, Fault catalogue; noop has no runbook (nothing is wrong)
FAULTS = (
    "api-crash api-hang api-memory-leak api-cpu-hog api-error-storm api-latency "
    "upstream-outage upstream-dns db-down db-lock db-pool-exhaustion db-auth-failure "
    "db-data-loss schema-drift disk-fill cache-corruption config-drift net-db-latency "
    "net-db-partition"
).split()


def test_the_fault_list_is_the_chaos_catalogue() -> None:
    """Tests may read the chaos catalogue (the agent never does): a new fault without a
    runbook fails here."""
    assert set(FAULTS) == set(build_catalogue()) - {"noop"}


def test_every_packaged_runbook_parses() -> None:
    files = sorted(p.name for p in RUNBOOK_DIR.glob("*.md") if p.name != "README.md")
    books = load_runbooks()
    assert len(books) == len(files) > 0
    assert {Path(b.path).name for b in books} == set(files)


@pytest.mark.parametrize("fault", FAULTS)
def test_every_catalogue_fault_has_a_runbook(fault: str) -> None:
    covering = [b for b in load_runbooks() if fault in b.faults]
    assert covering, f"no packaged runbook covers {fault}"
    assert all(b.actions for b in covering), "a fault runbook says what to do"


def test_every_runbook_action_has_the_action_servers_risk() -> None:
    """What a plan tells the human (and the policy) about a step's risk is the action
    server's own classification, never a friendlier one."""
    from action_server.actions import CATALOGUE

    for book in load_runbooks():
        for step in book.actions:
            assert step.risk == CATALOGUE[step.action].risk.value, (book.path, step.action)


def test_no_runbook_claims_an_unknown_fault() -> None:
    for book in load_runbooks():
        assert set(book.faults) <= set(FAULTS), book.path


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    """The packaged runbooks indexed with MiniLM, once for this module."""
    index = KnowledgeIndex(tmp_path_factory.mktemp("state"), embedding="minilm")
    index.ensure()
    return index


@pytest.mark.parametrize("fault", FAULTS)
def test_a_faults_symptoms_retrieve_its_runbook(packaged: KnowledgeIndex, fault: str) -> None:
    book = next(b for b in packaged.runbooks if fault in b.faults)
    matches = packaged.query(book.symptoms, k=3)
    assert book.id in [m.id for m in matches]
