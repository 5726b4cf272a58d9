"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): one ranking from
several, each item scored sum(1 / (k + rank)). It needs no score calibration between the
rankers (cosine similarities and BM25 scores live on different scales), and k = 60 is the
paper's constant, not a value fitted here."""

from collections.abc import Hashable, Sequence
from typing import TypeVar

RRF_K = 60

K = TypeVar("K", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> list[K]:
    """Every item of `rankings` (each best first), by fused score; ties keep first-seen order."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: scores[item], reverse=True)
