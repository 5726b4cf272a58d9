"""The LLM providers against loopback HTTP stand-ins of their APIs.

No real provider (OpenAI, Gemini, Ollama) can be reached here, so each API is a small HTTP
server on 127.0.0.1 that records the request and answers like the provider documents. The
providers, httpx, CrewAI and the runner are real.
"""

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.crew import (
    CrewOutputError,
    CrewRunner,
    CrewTimeout,
    GeminiLLM,
    LLMConfigError,
    LLMProviderError,
    LLMTimeoutError,
    OllamaLLM,
    OpenAICompatibleLLM,
    make_llm,
)
from agent.model import Perception
from knowledge.runbook import parse_runbook
from tests.support.loopback import LoopbackServer, Quiet

KEY = "sk-test-SECRET-0123456789"
MESSAGES = [
    {"role": "system", "content": "You are an SRE."},
    {"role": "user", "content": "What is wrong?"},
    {"role": "assistant", "content": "Let me look."},
    {"role": "user", "content": [{"type": "text", "text": "Answer now."}]},
]

BOOK = parse_runbook(
    "---\nid: api-down\ntitle: API down\nsymptoms: the API does not answer\n"
    "diagnosis: the process is gone\nverification: /ready answers again\n"
    "escalate_when: it does not stay up\n---\n",
    path="api-down.md",
)
PERCEPTION = Perception(taken_at=datetime(2025, 1, 1, tzinfo=UTC), features={"target.up": False})

pytestmark = [pytest.mark.filterwarnings(r"ignore::DeprecationWarning:crewai(\..*)?")]


class StandIn(LoopbackServer):
    """A loopback HTTP API: records requests, answers from a script (or a default)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, Any, float]] = []
        self.default: tuple[int, Any, float] | None = None
        stand_in = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                stand_in.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, reply, delay = (
                    stand_in.replies.pop(0) if stand_in.replies else stand_in.default
                ) or (500, {"error": "no reply scripted"}, 0.0)
                if callable(reply):
                    reply = reply(body)
                time.sleep(delay)
                data = json.dumps(reply).encode() if not isinstance(reply, str) else reply.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        super().__init__(Handler)


@pytest.fixture
def api() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    token = tmp_path / "token"
    token.write_text("unused")
    values: dict[str, Any] = {
        "ops_db_url": "postgresql://unused@127.0.0.1:1/unused",
        "intake_token_file": token,
        "action_key_file": token,
        "mode": "llm",
        "llm_model": "test-model",
        "llm_timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def openai_reply(text: str, prompt: int = 31, completion: int = 7) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }


def test_openai_compatible_request_answer_and_tokens(api: StandIn) -> None:
    api.replies.append((200, openai_reply("The API is down.\nObservation: ignored"), 0.0))
    llm = OpenAICompatibleLLM.create(
        model="gpt-test", base_url=api.url + "/v1/", timeout_s=5, api_key=KEY
    )
    llm.stop = ["\nObservation:"]

    assert llm.call(MESSAGES) == "The API is down."  # cut at the stop word

    sent = api.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == "gpt-test"
    assert sent["body"]["stop"] == ["\nObservation:"]
    assert sent["body"]["messages"][3] == {"role": "user", "content": "Answer now."}
    usage = llm.get_token_usage_summary()
    assert (usage.prompt_tokens, usage.completion_tokens, usage.successful_requests) == (31, 7, 1)


def test_openai_compatible_without_key_sends_no_authorization(api: StandIn) -> None:
    api.replies.append((200, openai_reply("ok"), 0.0))
    llm = OpenAICompatibleLLM.create(model="llama3", base_url=api.url + "/v1", timeout_s=5)
    assert llm.call("hello") == "ok"
    assert "Authorization" not in api.requests[0]["headers"]
    assert api.requests[0]["body"]["messages"] == [{"role": "user", "content": "hello"}]


def test_gemini_request_answer_and_tokens(api: StandIn) -> None:
    reply = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "DB "}, {"text": "lock"}]}}
        ],
        "usageMetadata": {"promptTokenCount": 55, "candidatesTokenCount": 4, "totalTokenCount": 59},
    }
    api.replies.append((200, reply, 0.0))
    llm = GeminiLLM.create(
        model="gemini-test", base_url=api.url + "/v1beta", timeout_s=5, api_key=KEY
    )
    llm.temperature = 0.0

    assert llm.call(MESSAGES) == "DB lock"

    sent = api.requests[0]
    assert sent["path"] == "/v1beta/models/gemini-test:generateContent"  # no key in the URL
    assert KEY not in sent["path"]
    assert sent["headers"]["x-goog-api-key"] == KEY
    body = sent["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "You are an SRE."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][2]["parts"] == [{"text": "Answer now."}]
    assert body["generationConfig"] == {"temperature": 0.0}
    usage = llm.get_token_usage_summary()
    assert (usage.prompt_tokens, usage.completion_tokens) == (55, 4)


def test_ollama_native_request_answer_and_tokens(api: StandIn) -> None:
    reply = {
        "model": "llama3",
        "message": {"role": "assistant", "content": "restart-api"},
        "done": True,
        "prompt_eval_count": 120,
        "eval_count": 9,
    }
    api.replies.append((200, reply, 0.0))
    llm = OllamaLLM.create(model="llama3", base_url=api.url, timeout_s=5)
    llm.stop = ["\nObservation:"]

    assert llm.call(MESSAGES) == "restart-api"

    sent = api.requests[0]
    assert sent["path"] == "/api/chat"
    assert sent["body"]["stream"] is False
    assert sent["body"]["options"] == {"stop": ["\nObservation:"]}
    assert sent["body"]["messages"][0] == {"role": "system", "content": "You are an SRE."}
    usage = llm.get_token_usage_summary()
    assert (usage.prompt_tokens, usage.completion_tokens) == (120, 9)


def test_a_provider_error_names_the_status_but_never_the_key(
    api: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """The stand-in echoes the key back in its error body, as some proxies do."""
    api.replies.append((401, {"error": {"message": f"invalid api key {KEY}"}}, 0.0))
    llm = OpenAICompatibleLLM.create(model="m", base_url=api.url, timeout_s=5, api_key=KEY)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LLMProviderError) as caught:
        llm.call("hi")

    assert caught.value.status_code == 401
    assert "401" in str(caught.value) and "invalid api key ***" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(llm) and KEY not in json.dumps(llm.model_dump(mode="json"))
    assert KEY not in caplog.text


def test_a_malformed_provider_answer_is_a_clear_error(api: StandIn) -> None:
    api.replies.append((200, {"choices": []}, 0.0))
    llm = OpenAICompatibleLLM.create(model="m", base_url=api.url, timeout_s=5)
    with pytest.raises(LLMProviderError, match="unexpected shape"):
        llm.call("hi")


def test_a_slow_provider_times_out(api: StandIn) -> None:
    api.replies.append((200, openai_reply("late"), 3.0))
    llm = OpenAICompatibleLLM.create(model="m", base_url=api.url, timeout_s=0.5, api_key=KEY)
    with pytest.raises(LLMTimeoutError, match="within 0.5 s") as caught:
        llm.call("hi")
    assert KEY not in str(caught.value)


def test_make_llm_reads_the_key_file_and_checks_the_settings(tmp_path: Path) -> None:
    key_file = tmp_path / "llm.key"
    key_file.write_text(KEY + "\n")
    llm = make_llm(
        settings(
            tmp_path,
            llm_provider="gemini",
            llm_api_key_file=key_file,
            llm_base_url="http://127.0.0.1:9/v1beta",
        )
    )
    assert isinstance(llm, GeminiLLM)
    assert llm.base_url == "http://127.0.0.1:9/v1beta"
    assert llm.timeout_s == 5.0
    assert KEY not in repr(llm)

    ollama = make_llm(settings(tmp_path, llm_provider="ollama"))
    assert isinstance(ollama, OllamaLLM) and ollama.base_url == "http://127.0.0.1:11434"

    with pytest.raises(LLMConfigError, match="AGENT_LLM_MODEL"):
        make_llm(settings(tmp_path, llm_model=None))
    with pytest.raises(LLMConfigError, match="needs AGENT_LLM_API_KEY_FILE"):
        make_llm(settings(tmp_path, llm_provider="openai"))
    with pytest.raises(LLMConfigError, match="cannot be read"):
        make_llm(settings(tmp_path, llm_api_key_file=tmp_path / "missing.key"))


def test_the_crew_on_an_openai_compatible_provider_records_usage_and_cost(
    api: StandIn, tmp_path: Path
) -> None:
    """The whole LLM mode over HTTP: CrewRunner -> make_llm -> the stand-in, which answers
    the verification task with a plan and every other task with prose."""
    answer = {
        "hypotheses": [
            {"fault": "api-crash", "runbook_id": None, "confidence": 0.8, "summary": "down"}
        ],
        "plans": [{"fault": "api-crash", "steps": [{"action": "restart-api"}]}],
    }

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        task = body["messages"][-1]["content"].split("Current Task:")[-1]
        if "Check the hypotheses and plans" in task:
            return openai_reply("Final Answer: " + json.dumps(answer), 1000, 100)
        return openai_reply("Thought: seen\nFinal Answer: the API is down", 1000, 100)

    api.default = (200, reply, 0.0)
    key_file = tmp_path / "llm.key"
    key_file.write_text(KEY)
    s = settings(
        tmp_path,
        llm_base_url=api.url + "/v1",
        llm_api_key_file=key_file,
        llm_price_prompt_per_1k=0.01,
        llm_price_completion_per_1k=0.03,
    )
    outcome = CrewRunner(s).run(PERCEPTION, [], [BOOK])

    assert outcome.plans[0].steps[0].action == "restart-api"
    assert outcome.diagnosis.mode == "llm"
    assert len(api.requests) == 4
    assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in api.requests)
    assert (outcome.usage.calls, outcome.usage.prompt_tokens) == (4, 4000)
    assert outcome.usage.completion_tokens == 400
    assert outcome.usage.cost_usd == pytest.approx(4 * 0.01 + 0.4 * 0.03)


def test_a_refusing_provider_makes_the_crew_fail_cleanly(
    api: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 inside the crew comes out as CrewOutputError(reason="provider"), key-free, so
    the pipeline falls back to the deterministic diagnosis."""
    api.default = (401, {"error": {"message": f"bad key {KEY}"}}, 0.0)
    key_file = tmp_path / "llm.key"
    key_file.write_text(KEY)
    s = settings(tmp_path, llm_base_url=api.url + "/v1", llm_api_key_file=key_file)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CrewOutputError) as caught:
        CrewRunner(s).run(PERCEPTION, [], [BOOK])

    assert caught.value.reason == "provider"
    assert "401" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in caplog.text


def test_a_provider_timeout_inside_the_crew_is_a_crew_timeout(api: StandIn, tmp_path: Path) -> None:
    api.default = (200, openai_reply("late"), 2.0)
    s = settings(tmp_path, llm_base_url=api.url + "/v1", llm_timeout_s=0.3)
    with pytest.raises(CrewTimeout):
        CrewRunner(s, timeout_s=30).run(PERCEPTION, [], [BOOK])
