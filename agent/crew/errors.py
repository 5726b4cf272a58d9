"""What the crew raises: the pipeline falls back to the deterministic result on either."""

from agent.model import Usage


class CrewError(Exception):
    """The crew gave no usable diagnosis; `usage` is what the attempt(s) cost anyway."""

    def __init__(self, message: str, *, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or Usage()


class CrewOutputError(CrewError):
    """Malformed, invalid or unsafe output after one retry, or a provider that failed.

    `reason` is stable: "malformed" (not JSON / wrong shape), "unsafe" (an action outside
    the catalogue or parameters it does not take), "provider" (the LLM call itself failed).
    """

    def __init__(self, message: str, *, reason: str, usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.reason = reason


class CrewTimeout(CrewError):
    """The crew did not finish within its time budget."""


class LLMConfigError(ValueError):
    """The LLM settings cannot build a provider (no model, no key where one is needed)."""


class LLMExtraMissing(ImportError):
    """LLM mode was asked for but the `llm` extra (CrewAI and its provider SDKs) is not
    installed; the message says how to install it."""
