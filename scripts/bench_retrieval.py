"""Retrieval on held-out symptom texts: hit@1, hit@3 and MRR of the right runbook, dense
(local MiniLM) beside hybrid (dense + BM25, reciprocal rank fusion).

The texts are tests/knowledge/heldout/symptoms.yaml, written blind (see its README) and never
used to tune. Runs offline; prints one table and the misses.

    .venv/bin/python scripts/bench_retrieval.py [--embedding minilm|hashing|auto]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.index import KnowledgeIndex, RetrievalMode  # noqa: E402

HELDOUT = ROOT / "tests" / "knowledge" / "heldout" / "symptoms.yaml"
MODES: tuple[RetrievalMode, ...] = ("dense", "hybrid")


def rank_of(index: KnowledgeIndex, text: str, fault: str, mode: RetrievalMode) -> int | None:
    """1-based rank of the fault's runbook among the runbooks retrieved, or None."""
    runbooks = [m.id for m in index.query(text, k=10, mode=mode) if m.kind == "runbook"]
    return runbooks.index(fault) + 1 if fault in runbooks else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", default="auto", choices=["auto", "minilm", "hashing"])
    options = parser.parse_args()
    cases = [
        (fault, item["text"])
        for fault, items in yaml.safe_load(HELDOUT.read_text())["faults"].items()
        for item in items
    ]
    with tempfile.TemporaryDirectory() as state:
        index = KnowledgeIndex(Path(state), embedding=options.embedding)
        index.ensure()
        sys.stdout.write(
            f"held-out symptoms: {len(cases)} texts, {len({f for f, _ in cases})} faults; "
            f"embedding {index.embedding_name}\n\n"
            f"{'mode':<8} {'hit@1':>6} {'hit@3':>6} {'MRR':>6} {'ms/query':>9}\n"
        )
        misses: dict[str, list[str]] = {}
        for mode in MODES:
            started = time.perf_counter()
            ranks = [rank_of(index, text, fault, mode) for fault, text in cases]
            per_query_ms = (time.perf_counter() - started) * 1000 / len(cases)
            hit1 = sum(r == 1 for r in ranks) / len(ranks)
            hit3 = sum(r is not None and r <= 3 for r in ranks) / len(ranks)
            mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
            sys.stdout.write(
                f"{mode:<8} {hit1:>6.3f} {hit3:>6.3f} {mrr:>6.3f} {per_query_ms:>9.1f}\n"
            )
            misses[mode] = [
                f"  {fault} (rank {r}): {text[:90]}"
                for (fault, text), r in zip(cases, ranks, strict=True)
                if r != 1
            ]
        for mode in MODES:
            sys.stdout.write(f"\n{mode}: not first ({len(misses[mode])})\n")
            sys.stdout.write("\n".join(misses[mode]) + ("\n" if misses[mode] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
