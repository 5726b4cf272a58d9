"""The parts an IncidentPipeline is built from, as interfaces (real ones in build_pipeline;
tests pass their own diagnoser or planner)."""

from collections.abc import Callable
from typing import Any, Literal, Protocol

from agent.model import Diagnosis, Hypothesis, Perception, Plan
from agent.policy import CatalogueClient
from agent.verify import VerifyingObservability
from knowledge.retrieval import Match
from knowledge.runbook import Runbook


class Observability(VerifyingObservability, Protocol):
    def close(self) -> None: ...


class Knowledge(Protocol):
    runbooks: list[Runbook]

    def query(
        self, text: str, k: int = 5, *, mode: Literal["dense", "hybrid"] | None = None
    ) -> list[Match]: ...


class CrewLike(Protocol):
    def run(self, perception: Perception, matches: list[Match], runbooks: list[Runbook]) -> Any: ...


Diagnoser = Callable[[Perception, list[Runbook], list[Match]], Diagnosis]
Planner = Callable[[Hypothesis, list[Runbook]], Plan]


class ActionsClient(CatalogueClient, Protocol):
    def close(self) -> None: ...
