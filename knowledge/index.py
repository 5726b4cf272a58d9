"""The knowledge index: runbooks and past incidents, embedded locally, persisted in Chroma.

Layout under `<state_dir>/knowledge/`: `chroma/` (the Chroma database), `incidents/<id>.md`
(postmortems, the memory) and `manifest.json` (sha256 of every runbook and postmortem file
plus the embedding name). `ensure()` rebuilds the collection only when the manifest of the
files on disk differs from the one stored; otherwise the persisted vectors are reused.
"""

import hashlib
import json
import logging
import math
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import chromadb
from chromadb.config import Settings as ChromaSettings
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from knowledge.embeddings import EmbeddingKind, local_embedding, offline_environment
from knowledge.fusion import reciprocal_rank_fusion
from knowledge.lexical import LexicalIndex
from knowledge.memory import Postmortem, postmortem_fault, postmortem_passages
from knowledge.retrieval import Match, MatchKind, Passage
from knowledge.runbook import RUNBOOK_DIR, Runbook, load_runbooks
from knowledge.wording import spelled_out

RetrievalMode = Literal["dense", "hybrid"]
COLLECTION = "breakfix_knowledge"
MANIFEST_VERSION = 1
# metadata that identifies a node but would only add noise to its embedding
_NOT_EMBEDDED = ["kind", "doc_id", "fault"]

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _grouped(scored: Iterable[tuple[float, TextNode]]) -> dict[tuple[str, str], Match]:
    """Passages by the document they belong to: one Match each, its best passage first."""
    by_doc: dict[tuple[str, str], list[tuple[float, TextNode]]] = {}
    for score, node in scored:
        meta = node.metadata
        by_doc.setdefault((str(meta.get("kind")), str(meta.get("doc_id"))), []).append(
            (score, node)
        )
    matches = {}
    for (kind, doc_id), hits in by_doc.items():
        hits.sort(key=lambda pair: pair[0], reverse=True)
        passages = [
            Passage(heading=str(node.metadata.get("heading", "")), text=node.text, score=score)
            for score, node in hits
        ]
        meta = hits[0][1].metadata
        matches[(kind, doc_id)] = Match(
            kind="incident" if kind == "incident" else "runbook",
            id=doc_id,
            title=str(meta.get("title", doc_id)),
            score=passages[0].score,
            passages=passages,
            fault=(str(meta.get("fault") or "") or None) if kind == "incident" else None,
        )
    return matches


def _cosine(similarity: float) -> float:
    """ChromaVectorStore reports exp(-distance); with the cosine space distance is
    1 - cosine, so this gives the cosine similarity back."""
    return 1.0 + math.log(similarity) if similarity > 0 else -1.0


class KnowledgeIndex:
    """Runbooks and postmortems, queried together; safe to share between threads."""

    def __init__(
        self,
        state_dir: Path,
        *,
        runbook_dir: Path | None = None,
        incident_dir: Path | None = None,
        embedding: EmbeddingKind = "auto",
        mode: RetrievalMode = "dense",
    ) -> None:
        """An index kept under `state_dir`/knowledge, of the runbooks in `runbook_dir` and
        the postmortems in `incident_dir` (default: its own `incidents` folder; another
        index's, read only, for a reader such as the MCP gateway); `mode` is how `query`
        retrieves unless told otherwise."""
        offline_environment()
        self.root = Path(state_dir) / "knowledge"
        self.runbook_dir = runbook_dir or RUNBOOK_DIR
        self.incident_dir = incident_dir or self.root / "incidents"
        self.manifest_path = self.root / "manifest.json"
        self.mode: RetrievalMode = mode
        self._embed, self.embedding_name = local_embedding(embedding)
        self._lock = threading.RLock()
        self._index: VectorStoreIndex | None = None
        self._lexical: LexicalIndex | None = None  # rebuilt after any change of passages
        self._client: Any = None
        self._runbook_hashes: dict[str, str] = {}
        self.runbooks: list[Runbook] = []
        self._load_runbooks()

    # -- content on disk -------------------------------------------------------------

    def _runbook_files(self) -> list[Path]:
        return sorted(p for p in self.runbook_dir.glob("*.md") if p.name != "README.md")

    def _load_runbooks(self) -> None:
        hashes = {p.name: _sha256(p) for p in self._runbook_files()}
        self.runbooks = load_runbooks(self.runbook_dir)
        self._runbook_hashes = hashes

    def _incident_files(self) -> list[Path]:
        return sorted(self.incident_dir.glob("*.md")) if self.incident_dir.is_dir() else []

    def _manifest(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "embedding": self.embedding_name,
            "runbooks": dict(self._runbook_hashes),
            "incidents": {p.stem: _sha256(p) for p in self._incident_files()},
        }

    def _stored_manifest(self) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.manifest_path)

    # -- nodes -----------------------------------------------------------------------

    @staticmethod
    def _node(
        kind: MatchKind,
        doc_id: str,
        title: str,
        n: int,
        heading: str,
        text: str,
        fault: str | None = None,
    ) -> TextNode:
        ref = f"{kind}:{doc_id}"
        meta = {"kind": kind, "doc_id": doc_id, "title": title, "heading": heading}
        return TextNode(
            id_=f"{ref}#{n}",
            text=text,
            metadata={**meta, "fault": fault or ""},
            excluded_embed_metadata_keys=list(_NOT_EMBEDDED),
            excluded_llm_metadata_keys=list(_NOT_EMBEDDED),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=ref)},
        )

    def _runbook_nodes(self) -> Iterable[TextNode]:
        for book in self.runbooks:
            for n, (heading, text) in enumerate(book.passages()):
                yield self._node("runbook", book.id, book.title, n, heading, text)

    def _incident_nodes(self, path: Path) -> list[TextNode]:
        markdown = path.read_text(encoding="utf-8")
        title, pieces = postmortem_passages(markdown)
        fault = postmortem_fault(markdown)
        return [
            self._node("incident", path.stem, title or path.stem, n, heading, text, fault)
            for n, (heading, text) in enumerate(pieces)
        ]

    # -- building --------------------------------------------------------------------

    def _collection(self, *, fresh: bool) -> Any:
        if self._client is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.root / "chroma"),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
            )
        if fresh:
            existing = {c.name for c in self._client.list_collections()}
            if COLLECTION in existing:
                self._client.delete_collection(COLLECTION)
        return self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def ensure(self) -> bool:
        """Build the index, or reuse the persisted one when no runbook, postmortem or the
        embedding changed since it was built. True if it (re)built."""
        with self._lock:
            if {p.name: _sha256(p) for p in self._runbook_files()} != self._runbook_hashes:
                self._load_runbooks()
            manifest = self._manifest()
            collection = self._collection(fresh=False)
            empty = not (manifest["runbooks"] or manifest["incidents"])
            if self._stored_manifest() == manifest and (collection.count() > 0 or empty):
                if self._index is None:  # an index already open on it stays as it is
                    store = ChromaVectorStore(chroma_collection=collection)
                    self._index = VectorStoreIndex.from_vector_store(store, embed_model=self._embed)
                return False
            self._lexical = None  # the passages changed: BM25 is rebuilt on its next use
            self.manifest_path.unlink(missing_ok=True)  # a crash mid-build rebuilds next time
            store = ChromaVectorStore(chroma_collection=self._collection(fresh=True))
            nodes = list(self._runbook_nodes())
            for path in self._incident_files():
                nodes.extend(self._incident_nodes(path))
            self._index = VectorStoreIndex(
                nodes,
                storage_context=StorageContext.from_defaults(vector_store=store),
                embed_model=self._embed,
            )
            self._write_manifest(manifest)
            log.info(
                "knowledge index built: %d runbooks, %d past incidents, %d passages (%s)",
                len(self.runbooks),
                len(manifest["incidents"]),
                len(nodes),
                self.embedding_name,
            )
            return True

    def _ready(self) -> VectorStoreIndex:
        if self._index is None:
            self.ensure()
        assert self._index is not None
        return self._index

    # -- memory ----------------------------------------------------------------------

    def add_postmortem(self, pm: Postmortem) -> Path:
        """Write `incidents/<id>.md` and index it on its own (no rebuild); writing the same
        incident again replaces its passages."""
        with self._lock:
            index = self._ready()
            self.incident_dir.mkdir(parents=True, exist_ok=True)
            path = self.incident_dir / f"{pm.incident_id}.md"
            path.write_text(pm.to_markdown(), encoding="utf-8")
            index.delete_ref_doc(f"incident:{pm.incident_id}")
            index.insert_nodes(self._incident_nodes(path))
            self._lexical = None
            manifest = self._stored_manifest() or self._manifest()
            manifest.setdefault("incidents", {})[pm.incident_id] = _sha256(path)
            self._write_manifest(manifest)
            log.info("postmortem %s written and indexed: %s", pm.incident_id, path)
            return path

    # -- retrieval -------------------------------------------------------------------

    def query(self, text: str, k: int = 5, *, mode: RetrievalMode | None = None) -> list[Match]:
        """The `k` runbooks and past incidents closest to `text`, best first, each with
        its best score (cosine) and the passages that matched (best first).

        `mode` (default: the index's) "hybrid" orders the documents by reciprocal rank
        fusion of the dense ranking and a BM25 one over the same passages (knowledge.lexical,
        knowledge.fusion); the scores stay cosine similarities (0.0 for a document only BM25
        found)."""
        if not text.strip():
            raise ValueError("query text is empty")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        mode = mode or self.mode
        top = max(4 * k, 12)  # enough passages that k distinct documents are likely there
        text = spelled_out(text)
        with self._lock:
            index = self._ready()
            if mode == "hybrid":  # whole rankings: RRF favours a document in both lists, and
                top = max(top, self._lexical_index().size)  # one cut short misses some
            dense = _grouped(
                (_cosine(hit.score), hit.node)
                for hit in index.as_retriever(similarity_top_k=top).retrieve(text)
                if isinstance(hit.node, TextNode) and hit.score is not None
            )
            if mode == "dense":
                return sorted(dense.values(), key=lambda m: m.score, reverse=True)[:k]
            lexical = _grouped(self._lexical_index().ranked(text, top))
        by_dense = sorted(dense, key=lambda key: dense[key].score, reverse=True)
        by_lexical = sorted(lexical, key=lambda key: lexical[key].score, reverse=True)
        fused = reciprocal_rank_fusion([by_dense, by_lexical])
        return [
            dense[key] if key in dense else lexical[key].model_copy(update={"score": 0.0})
            for key in fused[:k]
        ]

    def _lexical_index(self) -> LexicalIndex:
        """BM25 over every passage the dense index holds (built on first use after a change)."""
        if self._lexical is None:
            nodes: list[BaseNode] = list(self._runbook_nodes())
            for path in self._incident_files():
                nodes.extend(self._incident_nodes(path))
            self._lexical = LexicalIndex(nodes)
        return self._lexical
