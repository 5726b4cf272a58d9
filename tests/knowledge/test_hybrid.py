"""Hybrid retrieval: reciprocal rank fusion, BM25 over the passages, and the index's
hybrid mode (document order fused, scores still cosine)."""

from llama_index.core.schema import TextNode

from knowledge.fusion import reciprocal_rank_fusion
from knowledge.lexical import LexicalIndex
from tests.support.knowledge_fixtures import IndexOn


def test_fusion_rewards_agreement_and_keeps_items_only_one_ranker_found() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]])
    assert fused[0] == "b"  # 2nd and 1st beats 1st and 3rd
    assert fused[1] == "a"
    assert set(fused) == {"a", "b", "c", "d"}
    assert reciprocal_rank_fusion([]) == []


def test_bm25_finds_the_passage_with_the_rare_words_stemmed() -> None:
    nodes = [
        TextNode(id_="1", text="The API process is gone and the port refuses connections."),
        TextNode(id_="2", text="Writes fail: no space left on device for the cache files."),
        TextNode(id_="3", text="Queries wait on a lock held by another session."),
    ]
    lexical = LexicalIndex(list(nodes))
    ranked = lexical.ranked("cache write failing, device has no space", top_k=3)
    assert [node.node_id for _, node in ranked][0] == "2"
    assert lexical.ranked("zebra quokka", top_k=3) == []  # no shared word: nothing


def test_hybrid_orders_documents_by_fusion_and_keeps_cosine_scores(index_on: IndexOn) -> None:
    index = index_on("hashing")
    dense = index.query("No space left on device when writing the cache", k=10)
    hybrid = index.query("No space left on device when writing the cache", k=3, mode="hybrid")
    assert hybrid[0].id == "disk-fill"
    assert {m.id for m in hybrid} <= {"api-memory-leak", "db-down", "db-lock", "disk-fill"}
    by_id = {m.id: m.score for m in dense}
    for match in hybrid:  # a document dense retrieval also found keeps its cosine
        assert match.score == by_id.get(match.id, 0.0)
