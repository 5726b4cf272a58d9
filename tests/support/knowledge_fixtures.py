"""The knowledge tests' kit: where their runbooks are, and a counter of embedding calls."""

from pathlib import Path

FIXTURE_RUNBOOKS = Path(__file__).parent.parent / "knowledge" / "fixtures" / "runbooks"


class EmbedCounter:
    """Counts texts embedded for the index (documents) and for queries."""

    def __init__(self) -> None:
        self.texts = 0
        self.queries = 0
