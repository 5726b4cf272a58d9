"""Retrieval results: runbooks and past incidents matched to a query, with their passages."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MatchKind = Literal["runbook", "incident"]


class Passage(BaseModel):
    """One matched piece of a document: its heading, its text and its similarity."""

    model_config = ConfigDict(frozen=True)

    heading: str
    text: str
    score: float


class Match(BaseModel):
    """One document (a runbook or a past incident) that matched, best passage first.

    `score` is the best passage's similarity (cosine, higher is closer). `fault` is, for a
    past incident, the fault it was diagnosed as (None when unknown); None for runbooks.
    """

    model_config = ConfigDict(frozen=True)

    kind: MatchKind
    id: str
    title: str
    score: float
    passages: list[Passage] = Field(default_factory=list)
    fault: str | None = None
