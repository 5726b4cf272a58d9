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


class LLMProviderError(RuntimeError):
    """An LLM provider call failed: status and the provider's error text, never the key.

    `status_code` lets CrewAI's rate-limit retry recognise a 429.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMTimeoutError(TimeoutError):
    """An LLM provider did not answer within the configured timeout."""


class LLMConfigError(ValueError):
    """The LLM settings cannot build a provider (no model, no key where one is needed)."""
