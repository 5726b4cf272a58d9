"""Retrieval on symptom texts: hit@1, hit@3 and MRR of the right runbook, dense (local
MiniLM) beside hybrid (dense + BM25, reciprocal rank fusion), on two sets written blind:

- tuning   tests/knowledge/tuning/symptoms.yaml: runbook wording was tuned against it;
- held-out tests/knowledge/heldout/symptoms.yaml: never used to tune (see its README).

Misses are printed for the tuning set only (`--misses`): looking at held-out misses is how a
held-out set stops being one. Runs offline.

    .venv/bin/python scripts/bench_retrieval.py [--embedding minilm|hashing|auto] [--misses]
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

SETS = {
    "tuning": ROOT / "tests" / "knowledge" / "tuning" / "symptoms.yaml",
    "held-out": ROOT / "tests" / "knowledge" / "heldout" / "symptoms.yaml",
}
MODES: tuple[RetrievalMode, ...] = ("dense", "hybrid")


def rank_of(index: KnowledgeIndex, text: str, fault: str, mode: RetrievalMode) -> int | None:
    """1-based rank of the fault's runbook among the runbooks retrieved, or None."""
    runbooks = [m.id for m in index.query(text, k=10, mode=mode) if m.kind == "runbook"]
    return runbooks.index(fault) + 1 if fault in runbooks else None


def load_set(path: Path) -> list[tuple[str, str]]:
    """(fault, text) pairs from either file's layout."""
    document = yaml.safe_load(path.read_text())
    if "faults" in document:
        return [(f, item["text"]) for f, items in document["faults"].items() for item in items]
    return [(item["fault"], item["text"]) for item in document["symptoms"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedding", default="auto", choices=["auto", "minilm", "hashing"])
    parser.add_argument("--misses", action="store_true", help="list the tuning set's misses")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        index = KnowledgeIndex(Path(state), embedding=options.embedding)
        index.ensure()
        sys.stdout.write(
            f"embedding {index.embedding_name}\n\n"
            f"{'set':<9} {'texts':>5} {'mode':<7} {'hit@1':>6} {'hit@3':>6} {'MRR':>6}"
            f" {'ms/query':>9}\n"
        )
        misses: list[str] = []
        for name, path in SETS.items():
            cases = load_set(path)
            for mode in MODES:
                started = time.perf_counter()
                ranks = [rank_of(index, text, fault, mode) for fault, text in cases]
                per_query_ms = (time.perf_counter() - started) * 1000 / len(cases)
                hit1 = sum(r == 1 for r in ranks) / len(ranks)
                hit3 = sum(r is not None and r <= 3 for r in ranks) / len(ranks)
                mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
                sys.stdout.write(
                    f"{name:<9} {len(cases):>5} {mode:<7} {hit1:>6.3f} {hit3:>6.3f} {mrr:>6.3f}"
                    f" {per_query_ms:>9.1f}\n"
                )
                if name == "tuning" and options.misses:
                    misses.extend(
                        f"  {mode} {fault} (rank {r}): {text[:110]}"
                        for (fault, text), r in zip(cases, ranks, strict=True)
                        if r != 1
                    )
        if misses:
            sys.stdout.write(
                f"\ntuning set, not first ({len(misses)}):\n" + "\n".join(misses) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
