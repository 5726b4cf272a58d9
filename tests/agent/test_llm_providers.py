"""The LLM providers (CrewAI's own, native tool calling) against loopback stand-ins.

STAND-INS: no model (OpenAI, Gemini, Ollama) can be reached here, so each API is a small HTTP
server on 127.0.0.1 that records the requests and answers as the provider documents: first
with tool calls, then -- once it has received the tool results -- with the final answer. The
providers (CrewAI's classes over the openai SDK and google-genai), CrewAI's agents and tool
loop, the crew's tools, a KnowledgeIndex on disk and the runner are all real.

Needs the `llm` extra; without it the module is skipped.
"""

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "agent.crew.runner", reason="the LLM crew needs the llm extra: pip install -e '.[llm]'"
)

from agent.config import Settings
from agent.crew import (
    CrewOutputError,
    CrewRunner,
    CrewTimeout,
    GeminiLLM,
    LLMConfigError,
    OllamaLLM,
    OpenAICompatibleLLM,
    make_llm,
)
from agent.crew.tools import CallLedger, crew_tools
from agent.model import Perception
from knowledge.index import KnowledgeIndex
from knowledge.runbook import parse_runbook
from tests.support.loopback import LoopbackServer, Quiet

from crewai.utilities.agent_utils import setup_native_tools  # isort: skip

KEY = "sk-test-SECRET-0123456789"
RUNBOOK = (
    "---\nid: api-down\ntitle: API down\nfaults: [api-crash]\n"
    "symptoms: the API does not answer its health checks\n"
    "diagnosis: the process is gone\nverification: /ready answers again\n"
    "escalate_when: it does not stay up\n---\n# Steps\nRestart the API.\n"
)
BOOK = parse_runbook(RUNBOOK, path="api-down.md")
PERCEPTION = Perception(taken_at=datetime(2025, 1, 1, tzinfo=UTC), features={"target.up": False})
ANSWER = {
    "hypotheses": [
        {"fault": "api-crash", "runbook_id": "api-down", "confidence": 0.8, "summary": "down"}
    ],
    "plans": [{"fault": "api-crash", "steps": [{"action": "restart-api"}]}],
}
DIAGNOSE_MARK = "Rank the likely faults"
PLAN_MARK = "plan the ordered catalogue actions"
VERIFY_MARK = "Check the hypotheses and plans"

pytestmark = [pytest.mark.filterwarnings(r"ignore::DeprecationWarning:crewai(\..*)?")]

Reply = tuple[int, Any, float]


class StandIn(LoopbackServer):
    """A loopback HTTP API: records requests, answers from a script or a function of the
    request body (or a default)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[Reply] = []
        self.default: Reply | None = None
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
                data = json.dumps(reply).encode()
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


class Observability:
    """The observability reads the evidence tool makes, recorded (no lab runs here)."""

    def __init__(self) -> None:
        self.reads: list[float] = []

    def perceive(self, window_s: float) -> Perception:
        self.reads.append(window_s)
        return Perception(
            taken_at=datetime.now(UTC),
            features={"target.up": False, "target.ready_ms": 0.0},
            log_lines=["target: connection refused"],
        )

    def firing(self) -> list[dict[str, Any]]:
        return [{"alertname": "TargetDown", "service": "target"}]


class Actions:
    """The action server reads the catalogue and dry-run tools make, recorded."""

    def __init__(self) -> None:
        self.dry_runs: list[tuple[str, dict[str, Any], bool]] = []

    def actions(self) -> list[dict[str, Any]]:
        return [{"name": "switch-to-fallback", "params": {"dependency": "str"}}]

    def act(self, name: str, params: dict[str, Any] | None = None, *, dry_run: bool = False) -> Any:
        self.dry_runs.append((name, dict(params or {}), dry_run))
        return {"action": name, "would": "route db traffic to the fallback"}


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    token = tmp_path / "token"
    token.write_text("unused")
    values: dict[str, Any] = {
        "ops_db_url": "postgresql://unused@127.0.0.1:1/unused",
        "intake_token_file": token,
        "action_key_file": token,
        "state_dir": tmp_path / "state",
        "mode": "llm",
        "llm_model": "test-model",
        "llm_timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "llm.key"
    path.write_text(KEY + "\n")
    return path


def chat_reply(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    prompt: int = 1000,
    completion: int = 100,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def task_of(body: dict[str, Any]) -> str:
    """The task a chat request is for (CrewAI writes it into the first user message)."""
    users = [m for m in body["messages"] if m["role"] == "user"]
    return str(users[0]["content"]).split("Current Task:")[-1] if users else ""


def tool_calling_model(seen: list[dict[str, Any]]) -> Callable[[dict[str, Any]], Any]:
    """The stand-in model: on the diagnosis task it calls the evidence and knowledge tools,
    on the planning task the dry-run tool with a parameter, and answers each only once the
    request carries the results (recorded in `seen`); the verification task gets the JSON
    answer, every other task a line of prose."""

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        task = task_of(body)
        if VERIFY_MARK in task:
            return chat_reply(json.dumps(ANSWER))
        if DIAGNOSE_MARK in task:
            calls = [
                tool_call("call_evidence", "observability_evidence", {"service": "target"}),
                tool_call("call_search", "knowledge_search", {"query": "API down", "k": 3}),
            ]
        elif PLAN_MARK in task:
            db = {"action": "switch-to-fallback", "params": [{"name": "dependency", "value": "db"}]}
            calls = [tool_call("call_dry_run", "action_dry_run", db)]
        else:
            return chat_reply("the target API is down (target.up false)")
        results = [m for m in body["messages"] if m["role"] == "tool"]
        if not results:
            return chat_reply(tool_calls=calls)
        seen.extend(results)
        return chat_reply("done with the tools")

    return reply


def knowledge(tmp_path: Path) -> KnowledgeIndex:
    """A real KnowledgeIndex (hashing embedding) over the one runbook, in tmp_path."""
    book_dir = tmp_path / "runbooks"
    book_dir.mkdir()
    (book_dir / "api-down.md").write_text(RUNBOOK)
    index = KnowledgeIndex(tmp_path / "state", runbook_dir=book_dir, embedding="hashing")
    index.ensure()
    return index


@pytest.mark.parametrize(("provider", "suffix"), [("openai", "/v1"), ("ollama", "")])
def test_the_crew_runs_through_tool_calls_on_an_openai_compatible_provider(
    api: StandIn, tmp_path: Path, provider: str, suffix: str
) -> None:
    """CrewRunner -> make_llm -> CrewAI's OpenAI-compatible provider -> the stand-in, which
    asks for two tool calls on the diagnosis task and a dry run with a parameter on the
    planning task. The tools really ran (the observability and action stubs were called, the
    knowledge index answered), their results came back as tool messages, and the crew's final
    answer parsed into the diagnosis. Ollama is the same API at /v1."""
    index = knowledge(tmp_path)
    observability, actions = Observability(), Actions()
    seen: list[dict[str, Any]] = []
    api.default = (200, tool_calling_model(seen), 0.0)
    s = settings(
        tmp_path,
        llm_provider=provider,
        llm_base_url=api.url + suffix,
        llm_api_key_file=key_file(tmp_path),
        llm_price_prompt_per_1k=0.01,
        llm_price_completion_per_1k=0.03,
    )

    outcome = CrewRunner(s, observability=observability, knowledge=index, actions=actions).run(
        PERCEPTION, [], [BOOK]
    )

    # the model's tool calls were sent as function definitions and answered by the tools
    first = api.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == f"Bearer {KEY}"
    offered = {t["function"]["name"] for r in api.requests for t in r["body"].get("tools", [])}
    assert {"observability_evidence", "knowledge_search", "action_dry_run"} <= offered
    results = {m["tool_call_id"]: json.loads(m["content"]) for m in seen}
    assert set(results) == {"call_evidence", "call_search", "call_dry_run"}
    assert results["call_search"]["status"] == "success"
    assert results["call_search"]["query"] == {"query": "API down", "k": 3}
    assert results["call_search"]["data"][0]["id"] == "api-down"
    assert results["call_evidence"]["data"]["log_lines"] == ["target: connection refused"]
    assert observability.reads == [s.evidence_window_s]  # the evidence tool itself ran
    assert actions.dry_runs == [("switch-to-fallback", {"dependency": "db"}, True)]
    assert results["call_dry_run"]["status"] == "success"

    # the final answer became the typed diagnosis and plan
    assert outcome.diagnosis.mode == "llm"
    assert outcome.diagnosis.hypotheses[0].runbook_id == "api-down"
    assert outcome.plans[0].steps[0].action == "restart-api"
    # six chat requests (four tasks, two more for the tool rounds), each priced
    assert (outcome.usage.calls, outcome.usage.prompt_tokens) == (6, 6000)
    assert outcome.usage.completion_tokens == 600
    assert outcome.usage.cost_usd == pytest.approx(6 * 0.01 + 0.6 * 0.03)


def gemini_reply(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 20},
    }


def test_the_crew_runs_through_function_calls_on_gemini(api: StandIn, tmp_path: Path) -> None:
    """The same crew on Gemini's API: the stand-in answers the diagnosis task with a
    functionCall, and only once a functionResponse with the search result comes back does it
    answer in text."""
    index = knowledge(tmp_path)
    responses: list[dict[str, Any]] = []

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        parts = [p for c in body["contents"] for p in c["parts"]]
        task = next(str(p["text"]) for p in parts if "text" in p).split("Current Task:")[-1]
        if VERIFY_MARK in task:
            return gemini_reply([{"text": json.dumps(ANSWER)}])
        if DIAGNOSE_MARK not in task:
            return gemini_reply([{"text": "the target API is down"}])
        answered = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if not answered:
            call = {"name": "knowledge_search", "args": {"query": "API down"}}
            return gemini_reply([{"functionCall": call}])
        responses.extend(answered)
        return gemini_reply([{"text": "api-crash, runbook api-down"}])

    api.default = (200, reply, 0.0)
    s = settings(
        tmp_path,
        llm_provider="gemini",
        llm_model="gemini-2.0-flash",
        llm_base_url=api.url + "/v1beta",
        llm_api_key_file=key_file(tmp_path),
    )

    outcome = CrewRunner(s, knowledge=index).run(PERCEPTION, [], [BOOK])

    assert all(r["headers"]["x-goog-api-key"] == KEY for r in api.requests)
    [response] = responses
    assert response["name"] == "knowledge_search"
    result = response["response"]  # our JSON document, as Gemini's structured response
    assert result["status"] == "success" and result["data"][0]["id"] == "api-down"
    assert outcome.plans[0].steps[0].action == "restart-api"
    assert outcome.usage.calls == 5


def test_ollama_goes_through_its_openai_compatible_endpoint_with_tools(
    api: StandIn, tmp_path: Path
) -> None:
    """One provider call with a tool offered; the model's tool call comes back unrun (CrewAI's
    executor runs it), and no key is needed."""
    llm = make_llm(settings(tmp_path, llm_provider="ollama", llm_base_url=api.url))
    assert isinstance(llm, OllamaLLM) and llm.supports_function_calling()
    tools = crew_tools(
        observability=Observability(),
        knowledge=None,
        actions=None,
        window_s=60,
        ledger=CallLedger(),
    )["perception"]
    schemas, _, _ = setup_native_tools(tools)
    api.replies.append(
        (200, chat_reply(tool_calls=[tool_call("c1", "firing_alerts", {})], prompt=12), 0.0)
    )

    calls = llm.call([{"role": "user", "content": "What is firing?"}], tools=schemas)

    sent = api.requests[0]
    assert sent["path"] == "/v1/chat/completions"  # Ollama's OpenAI-compatible endpoint
    assert sent["headers"]["Authorization"] == "Bearer keyless"  # no key set: a placeholder
    assert sent["body"]["model"] == "test-model"
    names = [t["function"]["name"] for t in sent["body"]["tools"]]
    assert names == ["firing_alerts", "observability_snapshot", "observability_evidence"]
    snapshot = sent["body"]["tools"][1]["function"]["parameters"]
    assert "service" in snapshot["properties"]
    assert isinstance(calls, list) and calls[0].function.name == "firing_alerts"
    assert llm.get_token_usage_summary().prompt_tokens == 12


def test_gemini_sends_function_declarations_and_reads_function_calls(
    api: StandIn, tmp_path: Path
) -> None:
    """Gemini's generateContent through google-genai: the key in a header (never the URL),
    the tools as function declarations, a functionCall part in the answer."""
    llm = make_llm(
        settings(
            tmp_path,
            llm_provider="gemini",
            llm_model="gemini-2.0-flash",
            llm_base_url=api.url + "/v1beta",
            llm_api_key_file=key_file(tmp_path),
        )
    )
    assert isinstance(llm, GeminiLLM) and llm.supports_function_calling()
    search = {
        "type": "function",
        "function": {
            "name": "knowledge_search",
            "description": "Runbooks similar to a description.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
    call = {"name": "knowledge_search", "args": {"query": "x"}}
    reply = gemini_reply([{"functionCall": call}])
    api.replies.append((200, reply, 0.0))

    calls = llm.call(
        [{"role": "system", "content": "You are an SRE."}, {"role": "user", "content": "Why?"}],
        tools=[search],
    )

    sent = api.requests[0]
    assert sent["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert KEY not in sent["path"]
    assert sent["headers"]["x-goog-api-key"] == KEY
    declared = sent["body"]["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "knowledge_search"
    assert sent["body"]["systemInstruction"]["parts"] == [{"text": "You are an SRE."}]
    assert isinstance(calls, list)  # Gemini's own parts, which CrewAI's executor reads
    assert calls[0].function_call.name == "knowledge_search"
    assert dict(calls[0].function_call.args) == {"query": "x"}
    usage = llm.get_token_usage_summary()
    assert (usage.prompt_tokens, usage.completion_tokens) == (200, 20)


def test_make_llm_reads_the_key_file_and_checks_the_settings(tmp_path: Path) -> None:
    llm = make_llm(
        settings(
            tmp_path,
            llm_api_key_file=key_file(tmp_path),
            llm_base_url="http://127.0.0.1:9/v1",
        )
    )
    assert isinstance(llm, OpenAICompatibleLLM)
    assert llm.base_url == "http://127.0.0.1:9/v1" and llm.timeout == 5.0
    assert KEY not in repr(llm) and KEY not in json.dumps(llm.model_dump(mode="json"))

    ollama = make_llm(settings(tmp_path, llm_provider="ollama"))
    assert isinstance(ollama, OllamaLLM) and ollama.base_url == "http://127.0.0.1:11434/v1"

    with pytest.raises(LLMConfigError, match="AGENT_LLM_MODEL"):
        make_llm(settings(tmp_path, llm_model=None))
    with pytest.raises(LLMConfigError, match="needs AGENT_LLM_API_KEY_FILE"):
        make_llm(settings(tmp_path, llm_provider="openai"))
    with pytest.raises(LLMConfigError, match="cannot be read"):
        make_llm(settings(tmp_path, llm_api_key_file=tmp_path / "missing.key"))


def test_a_refusing_provider_makes_the_crew_fail_cleanly_without_the_key(
    api: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 inside the crew comes out as CrewOutputError(reason="provider"). The stand-in
    echoes the key in its error body, as some proxies do: it reaches neither the error nor
    the log (where CrewAI and the SDK write the provider's text)."""
    api.default = (401, {"error": {"message": f"bad key {KEY}"}}, 0.0)
    s = settings(tmp_path, llm_base_url=api.url + "/v1", llm_api_key_file=key_file(tmp_path))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CrewOutputError) as caught:
        CrewRunner(s).run(PERCEPTION, [], [BOOK])

    assert caught.value.reason == "provider"
    assert "401" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in caplog.text
    assert "bad key ***" in caplog.text


def test_a_provider_timeout_inside_the_crew_is_a_crew_timeout(api: StandIn, tmp_path: Path) -> None:
    api.default = (200, chat_reply("late"), 2.0)
    s = settings(tmp_path, llm_base_url=api.url + "/v1", llm_timeout_s=0.3)
    with pytest.raises(CrewTimeout):
        CrewRunner(s, timeout_s=30).run(PERCEPTION, [], [BOOK])
