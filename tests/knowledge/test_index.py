"""The knowledge index over the fixture runbooks, with the real MiniLM embedding and a real
Chroma database under a temporary state dir."""

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge.embeddings import HASHING_NAME, MINILM_NAME
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import Match
from tests.support.knowledge_fixtures import FIXTURE_RUNBOOKS, EmbedCounter, IndexOn

SYMPTOMS = {
    "requests hang until they time out, sessions are waiting on a lock": "db-lock",
    "connection refused to the postgres port, the API answers 503": "db-down",
    "writes fail: No space left on device": "disk-fill",
    "resident memory of the API keeps growing every minute": "api-memory-leak",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    """One index over the fixture runbooks, built once for the read-only tests."""
    index = KnowledgeIndex(
        tmp_path_factory.mktemp("state"), runbook_dir=FIXTURE_RUNBOOKS, embedding="minilm"
    )
    assert index.ensure() is True
    return index


@pytest.mark.parametrize(("symptom", "runbook"), SYMPTOMS.items())
def test_a_symptom_ranks_its_runbook_first(
    built: KnowledgeIndex, symptom: str, runbook: str
) -> None:
    matches = built.query(symptom, k=3)
    assert [m.kind for m in matches] == ["runbook"] * len(matches)
    best = matches[0]
    assert best.id == runbook
    assert best.score > matches[1].score
    assert best.title == next(b.title for b in built.runbooks if b.id == runbook)
    assert best.passages, "the passages that matched come with the match"
    scores = [p.score for p in best.passages]
    assert scores == sorted(scores, reverse=True)
    assert best.score == scores[0]
    assert all(-1.0 <= s <= 1.0 for s in scores)
    book = next(b for b in built.runbooks if b.id == runbook)
    assert {(p.heading, p.text) for p in best.passages} <= set(book.passages())


def test_k_limits_the_matches_and_bad_queries_are_refused(built: KnowledgeIndex) -> None:
    assert len(built.query("database", k=1)) == 1
    assert len(built.query("database", k=10)) == 4  # every runbook, no more
    with pytest.raises(ValueError, match="empty"):
        built.query("   ")
    with pytest.raises(ValueError, match="k must be at least 1"):
        built.query("database", k=0)


def test_concurrent_queries_agree_with_serial_ones(built: KnowledgeIndex) -> None:
    serial = {q: built.query(q, k=2) for q in SYMPTOMS}
    results: dict[str, list[Match]] = {}
    errors: list[BaseException] = []

    def run(text: str) -> None:
        try:
            results[text] = built.query(text, k=2)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(q,)) for q in SYMPTOMS for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for text, matches in results.items():
        assert [m.id for m in matches] == [m.id for m in serial[text]]
        assert [m.score for m in matches] == pytest.approx([m.score for m in serial[text]])


def test_unchanged_content_reuses_the_persisted_index(
    tmp_path: Path,
    runbook_dir: Path,
    index_on: IndexOn,
    count_embeddings: Callable[[Any], EmbedCounter],
) -> None:
    first = index_on("minilm")
    counter = count_embeddings(first._embed)
    assert first.ensure() is True
    built_texts = counter.texts
    assert built_texts == sum(len(b.passages()) for b in first.runbooks)
    before = first.query("sessions waiting on a lock", k=2)

    second = index_on("minilm")
    assert second.ensure() is False
    assert counter.texts == built_texts, "nothing re-embedded for unchanged content"
    after = second.query("sessions waiting on a lock", k=2)
    assert [m.id for m in after] == [m.id for m in before]
    assert after[0].score == pytest.approx(before[0].score)
    manifest = json.loads((tmp_path / "knowledge" / "manifest.json").read_text())
    assert manifest["embedding"] == MINILM_NAME
    assert set(manifest["runbooks"]) == {p.name for p in runbook_dir.glob("*.md")}


def test_a_changed_runbook_rebuilds_and_its_new_text_is_found(
    runbook_dir: Path, index_on: IndexOn, count_embeddings: Callable[[Any], EmbedCounter]
) -> None:
    index = index_on("minilm")
    assert index.ensure() is True
    assert index.ensure() is False
    disk = runbook_dir / "disk-fill.md"
    disk.write_text(
        disk.read_text(encoding="utf-8")
        + "\n## Inode exhaustion\n\nMillions of tiny files exhaust the inodes of the volume.\n"
    )
    counter = count_embeddings(index._embed)
    assert index.ensure() is True
    assert counter.texts == sum(len(b.passages()) for b in index.runbooks)
    best = index.query("the volume ran out of inodes because of tiny files", k=1)[0]
    assert best.id == "disk-fill"
    assert best.passages[0].heading == "Inode exhaustion"
    # the reloaded runbooks are what the index now serves
    assert any(h == "Inode exhaustion" for h, _ in index.runbooks[-1].passages())

    (runbook_dir / "api-memory-leak.md").unlink()
    assert index.ensure() is True
    assert {m.id for m in index.query("memory keeps growing", k=10)} == {
        "db-down",
        "db-lock",
        "disk-fill",
    }


def test_a_different_embedding_rebuilds(index_on: IndexOn) -> None:
    assert index_on("minilm").ensure()
    hashing = index_on("hashing")
    assert hashing.embedding_name == HASHING_NAME
    assert hashing.ensure() is True
    assert hashing.query("No space left on device", k=1)[0].id == "disk-fill"
    assert index_on("minilm").ensure()


def test_query_builds_on_first_use(tmp_path: Path, index_on: IndexOn) -> None:
    index = index_on("hashing")
    assert index.query("postgres connection refused", k=1)[0].id == "db-down"
    assert (tmp_path / "knowledge" / "manifest.json").is_file()
    assert (tmp_path / "knowledge" / "chroma").is_dir()
