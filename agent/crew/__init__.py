"""LLM mode: a CrewAI crew (perception, diagnosis, planning, verification) on a configured
provider, its answer parsed into the same typed Diagnosis and Plans as deterministic mode.

The offline environment is set before CrewAI is imported (agent.crew.offline).
"""

from agent.crew.offline import import_crewai

import_crewai()

from agent.crew.errors import (  # noqa: E402
    CrewError,
    CrewOutputError,
    CrewTimeout,
    LLMConfigError,
    LLMProviderError,
    LLMTimeoutError,
)
from agent.crew.llm import GeminiLLM, OllamaLLM, OpenAICompatibleLLM, make_llm  # noqa: E402
from agent.crew.runner import CrewOutcome, CrewRunner  # noqa: E402

__all__ = [
    "CrewError",
    "CrewOutcome",
    "CrewOutputError",
    "CrewRunner",
    "CrewTimeout",
    "GeminiLLM",
    "LLMConfigError",
    "LLMProviderError",
    "LLMTimeoutError",
    "OllamaLLM",
    "OpenAICompatibleLLM",
    "make_llm",
]
