"""The knowledge tests' kit: where their runbooks are, and a counter of embedding calls."""

from collections.abc import Callable
from pathlib import Path

from knowledge.index import KnowledgeIndex

FIXTURE_RUNBOOKS = Path(__file__).parent.parent / "knowledge" / "fixtures" / "runbooks"

# index_on(embedding): a new KnowledgeIndex instance on the test's state dir and runbooks
IndexOn = Callable[[str], KnowledgeIndex]


class EmbedCounter:
    """Counts texts embedded for the index (documents) and for queries."""

    def __init__(self) -> None:
        self.texts = 0
        self.queries = 0
