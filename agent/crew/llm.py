"""The LLM providers: any OpenAI-compatible endpoint, Gemini, Ollama native; `make_llm`."""

from typing import Any

from crewai import BaseLLM

from agent.config import Settings
from agent.crew.errors import LLMConfigError
from agent.crew.llm_http import HttpLLM

DEFAULT_BASE = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "ollama": "http://127.0.0.1:11434",
}


class OpenAICompatibleLLM(HttpLLM):
    """POST {base}/chat/completions with a bearer key: OpenAI, vLLM, Ollama's /v1, routers."""

    provider: str = "openai"

    def _request(
        self, messages: list[dict[str, str]]
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = int(self.max_tokens)
        if self.stop_sequences:
            body["stop"] = self.stop_sequences[:4]  # the API takes at most four
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        return "/chat/completions", body, headers

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int]:
        text = body["choices"][0]["message"].get("content") or ""
        usage = body.get("usage") or {}
        return str(text), int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))


class GeminiLLM(HttpLLM):
    """POST {base}/models/{model}:generateContent, the key in the x-goog-api-key header
    (not the query string, where it would show up in URLs and their error messages)."""

    provider: str = "gemini"

    def _request(
        self, messages: list[dict[str, str]]
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        system = [m["content"] for m in messages if m["role"] == "system"]
        contents = [
            {
                "role": "model" if m["role"] == "assistant" else "user",
                "parts": [{"text": m["content"]}],
            }
            for m in messages
            if m["role"] != "system"
        ]
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        config: dict[str, Any] = {}
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if self.max_tokens is not None:
            config["maxOutputTokens"] = int(self.max_tokens)
        if self.stop_sequences:
            config["stopSequences"] = self.stop_sequences[:5]
        if config:
            body["generationConfig"] = config
        headers = {"x-goog-api-key": self._api_key} if self._api_key else {}
        return f"/models/{self.model}:generateContent", body, headers

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int]:
        parts = body["candidates"][0]["content"]["parts"]
        text = "".join(str(p.get("text", "")) for p in parts)
        meta = body.get("usageMetadata") or {}
        return (
            text,
            int(meta.get("promptTokenCount", 0)),
            int(meta.get("candidatesTokenCount", 0)),
        )


class OllamaLLM(HttpLLM):
    """POST {base}/api/chat (Ollama's native API, not streamed)."""

    provider: str = "ollama"

    def _request(
        self, messages: list[dict[str, str]]
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        options: dict[str, Any] = {}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_tokens is not None:
            options["num_predict"] = int(self.max_tokens)
        if self.stop_sequences:
            options["stop"] = self.stop_sequences
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": False}
        if options:
            body["options"] = options
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        return "/api/chat", body, headers

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int]:
        text = body["message"].get("content") or ""
        return str(text), int(body.get("prompt_eval_count", 0)), int(body.get("eval_count", 0))


PROVIDERS: dict[str, type[HttpLLM]] = {
    "openai": OpenAICompatibleLLM,
    "gemini": GeminiLLM,
    "ollama": OllamaLLM,
}


def make_llm(settings: Settings) -> BaseLLM:
    """The configured provider; LLMConfigError says what is missing (never the key)."""
    if not settings.llm_model:
        raise LLMConfigError("AGENT_LLM_MODEL is required in llm mode")
    key: str | None = None
    if settings.llm_api_key_file is not None:
        try:
            key = settings.llm_api_key_file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise LLMConfigError(
                f"AGENT_LLM_API_KEY_FILE {settings.llm_api_key_file} cannot be read: {exc.strerror}"
            ) from None
    base = settings.llm_base_url or DEFAULT_BASE[settings.llm_provider]
    if key is None and settings.llm_base_url is None and settings.llm_provider != "ollama":
        raise LLMConfigError(
            f"provider {settings.llm_provider} at its public endpoint needs "
            "AGENT_LLM_API_KEY_FILE (or set AGENT_LLM_BASE_URL to a keyless local server)"
        )
    return PROVIDERS[settings.llm_provider].create(
        model=settings.llm_model, base_url=base, timeout_s=settings.llm_timeout_s, api_key=key
    )
