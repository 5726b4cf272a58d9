"""Lexical retrieval over the knowledge passages: BM25 (bm25s, through LlamaIndex's
BM25Retriever) with English Snowball stemming and stop words, over the same passages the
dense index holds (their title and heading included, as they are embedded).

Words an on-call human or a foreign monitor uses that the embedding does not place near a
runbook's phrasing (an error message's exact text, a product name) still match here."""

import logging

import Stemmer
from llama_index.core.schema import BaseNode, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

log = logging.getLogger(__name__)


class LexicalIndex:
    """BM25 over a fixed list of passages (rebuilt when they change: it takes milliseconds)."""

    def __init__(self, nodes: list[BaseNode]) -> None:
        self.size = len(nodes)
        self._retriever = BM25Retriever.from_defaults(
            nodes=nodes,
            stemmer=Stemmer.Stemmer("english"),
            language="english",
            similarity_top_k=max(1, len(nodes)),
        )

    def ranked(self, text: str, top_k: int) -> list[tuple[float, TextNode]]:
        """The `top_k` passages with a positive BM25 score, best first."""
        self._retriever.similarity_top_k = max(1, min(top_k, self.size))
        hits = self._retriever.retrieve(text)
        return [
            (float(hit.score), hit.node)
            for hit in hits
            if isinstance(hit.node, TextNode) and hit.score is not None and hit.score > 0
        ]
