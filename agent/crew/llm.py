"""The LLM providers: CrewAI's own provider classes with native tool calling; `make_llm`.

The crew's tools reach the model as function definitions (`tools` in the request) and the
model answers with tool calls, which CrewAI runs and sends back as tool messages.

- openai: any OpenAI-compatible /chat/completions endpoint (OpenAI, vLLM, routers) through
  CrewAI's OpenAICompletion on the openai SDK;
- ollama: Ollama's OpenAI-compatible endpoint (`{base}/v1`) through OpenAICompatibleCompletion;
- gemini: the Gemini API (`{base}/models/{model}:generateContent`) through GeminiCompletion on
  google-genai.

Each subclass keeps the API key out of repr and model dumps, and counts input tokens at four
characters a token (no count request; CrewAI would otherwise warn on every call). A keyless
local server gets a placeholder key: the SDKs refuse to start without one.
"""

import logging
from typing import Any

import httpx
import openai
from crewai import BaseLLM
from crewai.llms.providers.gemini.completion import GeminiCompletion
from crewai.llms.providers.openai.completion import OpenAICompletion
from crewai.llms.providers.openai_compatible.completion import OpenAICompatibleCompletion
from pydantic import Field

from agent.config import Settings
from agent.crew.errors import LLMConfigError

DEFAULT_BASE = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "ollama": "http://127.0.0.1:11434",
}
KEYLESS = "keyless"  # what a local server without a key is sent
RETRIES = 1  # the SDK's own retry of a 429, 5xx or dropped connection, within the run's budget
_GEMINI_VERSIONS = ("v1beta", "v1alpha", "v1")


class _FourCharTokens:
    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        """Four characters a token, without a count request."""
        if isinstance(messages, str):
            return (len(messages) + 3) // 4
        return sum((len(str(m.get("content") or "")) + 3) // 4 for m in messages)


class OpenAICompatibleLLM(_FourCharTokens, OpenAICompletion):
    """An OpenAI-compatible chat completions endpoint, tools as functions."""

    api_key: str | None = Field(default=None, repr=False, exclude=True)


class OllamaLLM(_FourCharTokens, OpenAICompatibleCompletion):
    """Ollama through its OpenAI-compatible endpoint, tools as functions."""

    api_key: str | None = Field(default=None, repr=False, exclude=True)


class GeminiLLM(_FourCharTokens, GeminiCompletion):
    """The Gemini API, tools as function declarations."""

    api_key: str | None = Field(default=None, repr=False, exclude=True)


def read_key(settings: Settings) -> str | None:
    """The API key from AGENT_LLM_API_KEY_FILE, or None; LLMConfigError if unreadable."""
    if settings.llm_api_key_file is None:
        return None
    try:
        return settings.llm_api_key_file.read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise LLMConfigError(
            f"AGENT_LLM_API_KEY_FILE {settings.llm_api_key_file} cannot be read: {exc.strerror}"
        ) from None


def make_llm(settings: Settings) -> BaseLLM:
    """The configured provider; LLMConfigError says what is missing (never the key)."""
    if not settings.llm_model:
        raise LLMConfigError("AGENT_LLM_MODEL is required in llm mode")
    key = read_key(settings)
    provider = settings.llm_provider
    if key is None and settings.llm_base_url is None and provider != "ollama":
        raise LLMConfigError(
            f"provider {provider} at its public endpoint needs "
            "AGENT_LLM_API_KEY_FILE (or set AGENT_LLM_BASE_URL to a keyless local server)"
        )
    if key is not None:
        hide_in_logs(key)
    base = (settings.llm_base_url or DEFAULT_BASE[provider]).rstrip("/")
    timeout_s = settings.llm_timeout_s
    if provider == "gemini":
        root, _, version = base.rpartition("/")
        if version not in _GEMINI_VERSIONS:
            root, version = base, "v1beta"
        options = {"base_url": root + "/", "api_version": version, "timeout": int(timeout_s * 1000)}
        return GeminiLLM(
            model=settings.llm_model,
            api_key=key or KEYLESS,
            client_params={"http_options": options},
        )
    common: dict[str, Any] = {
        "model": settings.llm_model,
        "base_url": base,
        "api_key": key or KEYLESS,
        "timeout": timeout_s,
        "max_retries": RETRIES,
    }
    if provider == "ollama":
        return OllamaLLM(provider="ollama", **common)
    # a base URL of our own: never fall over to OpenAI's Responses API on a 404
    return OpenAICompatibleLLM(custom_openai=settings.llm_base_url is not None, **common)


def is_timeout(exc: BaseException) -> bool:
    """Whether a provider call failed by timing out (each SDK has its own class for it)."""
    return isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException)


# --- the key stays out of the logs ------------------------------------------------------
# The SDKs put the provider's error text in their exceptions, and CrewAI logs them; some
# proxies echo the key back in that text.
_SECRETS: set[str] = set()
_base_factory = logging.getLogRecordFactory()


def redact(text: str) -> str:
    """`text` with every provider key replaced by ***."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def _record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is the handler's to report, not the caller's
        return record
    if any(secret in message for secret in _SECRETS):
        record.msg, record.args = redact(message), None
    return record


def hide_in_logs(secret: str) -> None:
    """Replace `secret` with *** in every log record from now on."""
    _SECRETS.add(secret)
    logging.setLogRecordFactory(_record)
