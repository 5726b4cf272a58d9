"""Knowledge fixtures: runbooks written for these tests, and counters of embedding calls."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.knowledge_fixtures import FIXTURE_RUNBOOKS, EmbedCounter


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    """A private, editable copy of the fixture runbooks."""
    dest = tmp_path / "runbooks"
    shutil.copytree(FIXTURE_RUNBOOKS, dest)
    return dest


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
