"""The common part of the HTTP LLM providers: one httpx client, the key, errors, usage.

CrewAI 1.15 ships no litellm, so each provider is a `crewai.BaseLLM` subclass speaking its
REST API with httpx. They do not declare native function calling: CrewAI then describes the
tools in the prompt (ReAct text), which every chat model can follow. The API key lives in a
private attribute, out of repr, model dumps and every error message.
"""

from typing import Any

import httpx
from crewai import BaseLLM
from pydantic import PrivateAttr

from agent.crew.errors import LLMProviderError, LLMTimeoutError

_ERROR_TEXT_MAX = 500


class HttpLLM(BaseLLM):
    """A chat model behind an HTTP API; subclasses build the request and read the answer."""

    timeout_s: float = 60.0
    context_window: int = 32768

    _api_key: str | None = PrivateAttr(default=None)
    _http: httpx.Client | None = PrivateAttr(default=None)

    @classmethod
    def create(
        cls, *, model: str, base_url: str, timeout_s: float, api_key: str | None = None
    ) -> "HttpLLM":
        """A provider for `model` at `base_url`; the key is kept private."""
        llm = cls(model=model, base_url=base_url.rstrip("/"), timeout_s=timeout_s)
        llm._api_key = api_key or None
        return llm

    # --- what a provider implements --------------------------------------------------
    def _request(
        self, messages: list[dict[str, str]]
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(path under base_url, JSON body, extra headers) for one chat completion."""
        raise NotImplementedError

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int]:
        """(answer text, prompt tokens, completion tokens) from the provider's answer."""
        raise NotImplementedError

    # --- CrewAI's contract -------------------------------------------------------------
    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        """One chat completion: the answer text, cut at the stop words; tokens counted."""
        chat = [
            {"role": str(m["role"]), "content": _text(m.get("content"))}
            for m in self._format_messages(messages)
        ]
        path, payload, headers = self._request(chat)
        body = self._post(path, payload, headers)
        try:
            text, prompt_tokens, completion_tokens = self._read(body)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise LLMProviderError(
                f"{self.provider} answer has an unexpected shape ({type(exc).__name__}: {exc})"
            ) from None
        self._track_token_usage_internal(
            {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        )
        return self._apply_stop_words(text)

    def supports_function_calling(self) -> bool:
        """Tools go through CrewAI's ReAct prompt, which works with any chat model."""
        return False

    def get_context_window_size(self) -> int:
        """The usable context (85% of the model's, as CrewAI reserves)."""
        return int(self.context_window * 0.85)

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        """Four characters a token, without CrewAI's warning on every call."""
        if isinstance(messages, str):
            return (len(messages) + 3) // 4
        return sum((len(_text(m.get("content"))) + 3) // 4 for m in messages)

    def close(self) -> None:
        """Release the HTTP connections."""
        if self._http is not None:
            self._http.close()
            self._http = None

    # --- HTTP ----------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.base_url or "", timeout=self.timeout_s, trust_env=False
            )
        return self._http

    def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._client().post(path, json=payload, headers=headers)
        except httpx.TimeoutException:
            raise LLMTimeoutError(
                f"{self.provider} did not answer within {self.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMProviderError(
                f"{self.provider} unreachable: {self._redact(type(exc).__name__ + ': ' + str(exc))}"
            ) from None
        if response.status_code >= 400:
            raise LLMProviderError(
                f"{self.provider} answered {response.status_code}: "
                f"{self._redact(response.text[:_ERROR_TEXT_MAX])}",
                status_code=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            raise LLMProviderError(
                f"{self.provider} answered non-JSON: {self._redact(response.text[:200])}"
            ) from None
        if not isinstance(body, dict):
            raise LLMProviderError(f"{self.provider} answered a JSON {type(body).__name__}")
        return body

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _text(content: Any) -> str:
    """Message content as plain text (content blocks joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(block.get("text", "")) if isinstance(block, dict) else str(block)
            for block in content
        )
    return str(content)
