"""LLM mode: a CrewAI crew (perception, diagnosis, planning, verification) on a configured
provider, with native tool calling, its answer parsed into the same typed Diagnosis and Plans
as deterministic mode.

CrewAI is the optional `llm` extra. It is imported here, offline (agent.crew.offline), when
installed; without it the errors stay importable and every other name raises LLMExtraMissing
saying how to install it.
"""

from typing import Any

from agent.crew.errors import (
    CrewError,
    CrewOutputError,
    CrewTimeout,
    LLMConfigError,
    LLMExtraMissing,
)
from agent.crew.offline import import_crewai

_missing: str | None = None
try:
    import_crewai()
except LLMExtraMissing as exc:
    _missing = str(exc)
else:
    from agent.crew.llm import GeminiLLM, OllamaLLM, OpenAICompatibleLLM, make_llm
    from agent.crew.runner import CrewOutcome, CrewRunner

__all__ = [
    "CrewError",
    "CrewOutcome",
    "CrewOutputError",
    "CrewRunner",
    "CrewTimeout",
    "GeminiLLM",
    "LLMConfigError",
    "LLMExtraMissing",
    "OllamaLLM",
    "OpenAICompatibleLLM",
    "make_llm",
]


def __getattr__(name: str) -> Any:
    """The crew's names when CrewAI is missing: LLMExtraMissing, naming the extra."""
    if _missing is not None and name in __all__:
        raise LLMExtraMissing(_missing)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
