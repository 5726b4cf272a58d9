"""Knowledge fixtures: runbooks written for these tests, and counters of embedding calls."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from knowledge.index import KnowledgeIndex
from tests.support.knowledge_fixtures import FIXTURE_RUNBOOKS, EmbedCounter, IndexOn


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the fixture runbooks."""
    dest = tmp_path / "runbooks"
    shutil.copytree(FIXTURE_RUNBOOKS, dest)
    return dest


@pytest.fixture
def index_on(tmp_path: Path, runbook_dir: Path) -> IndexOn:
    """index_on(embedding) -> a new KnowledgeIndex with that embedding, its state dir
    tmp_path and its runbooks `runbook_dir` (instances made in one test share both)."""

    def make(embedding: str) -> KnowledgeIndex:
        return KnowledgeIndex(tmp_path, runbook_dir=runbook_dir, embedding=embedding)

    return make


@pytest.fixture
def count_embeddings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], EmbedCounter]]:
    """count_embeddings(model) -> a counter fed by every embedding call on its class."""

    def install(model: Any) -> EmbedCounter:
        counter = EmbedCounter()
        cls = type(model)
        texts, query = cls._get_text_embeddings, cls._get_query_embedding

        def counted_texts(self: Any, batch: list[str]) -> Any:
            counter.texts += len(batch)
            return texts(self, batch)

        def counted_query(self: Any, text: str) -> Any:
            counter.queries += 1
            return query(self, text)

        monkeypatch.setattr(cls, "_get_text_embeddings", counted_texts)
        monkeypatch.setattr(cls, "_get_query_embedding", counted_query)
        return counter

    yield install
