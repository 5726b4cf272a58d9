"""Local embeddings: the hashing fallback's properties, and when the fallback is chosen."""

import logging
import math
import subprocess
import sys

import pytest

from knowledge.embeddings import (
    HASHING_DIMS,
    HASHING_NAME,
    MINILM_NAME,
    EmbeddingUnavailable,
    HashingEmbedding,
    hashing_vector,
    local_embedding,
)


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_vectors_are_unit_length_and_deterministic() -> None:
    text = "Requests hang while sessions wait on a table lock"
    first, again = hashing_vector(text), hashing_vector(text)
    assert first == again
    assert len(first) == HASHING_DIMS
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0)
    assert hashing_vector("  ... !!") == [0.0] * HASHING_DIMS


def test_hashing_is_the_same_in_another_process() -> None:
    """Python's str hash is salted per process; the embedding must not depend on it."""
    code = (
        "from knowledge.embeddings import hashing_vector;"
        "print(repr(hashing_vector('connection refused to postgres')[:16]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout.strip()
    assert out == repr(hashing_vector("connection refused to postgres")[:16])


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    query = hashing_vector("database connection refused, postgres is down")
    near = hashing_vector("Postgres down: every connection is refused by the database")
    far = hashing_vector("the cache directory filled the disk, no space left on device")
    assert _cos(query, near) > _cos(query, far) + 0.2
    # plural and singular hash alike
    assert _cos(hashing_vector("locks"), hashing_vector("lock")) == pytest.approx(1.0)


def test_hashing_embedding_is_a_llama_index_embedding() -> None:
    model, name = local_embedding("hashing")
    assert name == HASHING_NAME
    assert isinstance(model, HashingEmbedding)
    assert model.get_query_embedding("db lock") == hashing_vector("db lock")
    assert model.get_text_embedding_batch(["a lock", "a disk"]) == [
        hashing_vector("a lock"),
        hashing_vector("a disk"),
    ]
    assert local_embedding("hashing")[0] is model  # loaded once per process


def test_auto_falls_back_to_hashing_when_torch_does_not_import(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Simulated: torch is installed here, so `sys.modules["torch"] = None` makes the real
    import check fail exactly as a missing torch would."""
    monkeypatch.setitem(sys.modules, "torch", None)
    with caplog.at_level(logging.WARNING, logger="knowledge.embeddings"):
        model, name = local_embedding("auto")
    assert name == HASHING_NAME
    assert isinstance(model, HashingEmbedding)
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "FALLBACK" in warned[0].getMessage()
    assert HASHING_NAME in warned[0].getMessage()
    assert "torch" in warned[0].getMessage()


def test_minilm_asked_for_but_unavailable_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulated missing torch, as above."""
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(EmbeddingUnavailable, match=f"{MINILM_NAME}.*torch"):
        local_embedding("minilm")


def test_minilm_embeds_offline_and_ranks_by_meaning() -> None:
    model, name = local_embedding("auto")
    assert name == MINILM_NAME
    query, near, far = model.get_text_embedding_batch(
        [
            "the API is slow because a table is locked",
            "writers queue behind a session holding an exclusive lock",
            "disk full, no space left on device",
        ]
    )
    assert len(query) == 384
    assert _cos(query, near) > _cos(query, far)
    assert local_embedding("minilm")[0] is model
