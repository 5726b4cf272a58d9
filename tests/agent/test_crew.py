"""LLM mode plumbing: the CrewAI crew driven by a scripted LLM.

STAND-IN: no model can be reached here, so the model is `ScriptedLLM`, a crewai.BaseLLM
subclass that returns prepared answers (the verification task's answer from a script, a
short final answer to the other tasks) and counts tokens like a provider would. It declares
no native function calling, so its one tool call goes through CrewAI's text (ReAct) path;
the native tool-call path over HTTP is in test_llm_providers.py. Everything else is real:
CrewAI's crew, agents and tool loop, the parser, the catalogue the action server validates
parameters with, a KnowledgeIndex on disk, the policy engine with a store on real Postgres.

Needs the `llm` extra; without it the module is skipped.
"""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "agent.crew.runner", reason="the LLM crew needs the llm extra: pip install -e '.[llm]'"
)

from pydantic import PrivateAttr

from agent.config import Settings
from agent.crew import CrewOutputError, CrewRunner, CrewTimeout
from agent.crew.tools import CallLedger, crew_tools
from agent.model import Hypothesis, Perception, Plan, PlanStep, Verdict
from knowledge.retrieval import Match, Passage
from knowledge.runbook import Runbook, parse_runbook

from crewai import BaseLLM  # isort: skip  (after agent.crew went offline)

pytestmark = [
    # CrewAI 1.15's Agent reads its own deprecated fields while it initialises
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:crewai(\..*)?"),
]

VERIFY_MARK = "Check the hypotheses and plans"
RUNBOOK = """---
id: api-down
title: Target API down or frozen
faults: [api-crash, api-hang]
symptoms: The target API does not answer its health checks; requests time out.
signals:
  - {feature: target.up, op: eq, value: false, required: true}
diagnosis: The API process is gone or stopped; nothing else in the chain is failing.
actions:
  - {action: restart-api, risk: medium, why: a fresh process}
verification: The target answers /ready and a CRUD probe succeeds, held for a while.
verify_signals: [target.up]
escalate_when: The API does not stay up after two restarts.
---
# Steps
Restart the API through the action server, then watch /ready.
"""


class ScriptedLLM(BaseLLM):
    """Answers the verification task from `finals`, in order; every other task briefly."""

    finals: list[str]
    delay_s: float = 0.0
    tool_call: str | None = None  # one ReAct tool call the diagnosis agent makes, if set
    _prompts: list[str] = PrivateAttr(default_factory=list)
    _release: threading.Event = PrivateAttr(default_factory=threading.Event)

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
        text = (
            messages
            if isinstance(messages, str)
            else "\n".join(str(m.get("content", "")) for m in messages)
        )
        self._prompts.append(text)
        self._track_token_usage_internal({"prompt_tokens": 100, "completion_tokens": 20})
        if self.delay_s:
            self._release.wait(self.delay_s)
        task = text.split("Current Task:")[-1]
        if self.tool_call is not None and "Rank the likely faults" in task:
            call, self.tool_call = self.tool_call, None
            return call
        if VERIFY_MARK in task:
            return "Thought: checked\nFinal Answer: " + self.finals.pop(0)
        return "Thought: I know\nFinal Answer: the target API is down (target.up false)"

    def supports_function_calling(self) -> bool:
        return False

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        return 100

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    def release(self) -> None:
        self._release.set()


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    key = tmp_path / "key"
    key.write_text("unused")
    values: dict[str, Any] = {
        "ops_db_url": "postgresql://unused@127.0.0.1:1/unused",
        "intake_token_file": key,
        "action_key_file": key,
        "state_dir": tmp_path / "state",
        "mode": "llm",
        "llm_model": "scripted",
        "llm_price_prompt_per_1k": 0.5,
        "llm_price_completion_per_1k": 1.5,
        "verify_hold_s": 10.0,
        "verify_timeout_s": 150.0,
    }
    values.update(overrides)
    return Settings(**values)


def perception() -> Perception:
    return Perception(
        taken_at=datetime.now(UTC),
        alerts=[{"alertname": "TargetDown", "service": "target", "severity": "critical"}],
        features={"target.up": False, "target.ready_ms": 0.0},
        log_lines=["target: connection refused"],
    )


MATCHES = [
    Match(
        kind="runbook",
        id="api-down",
        title="Target API down or frozen",
        score=0.81,
        passages=[Passage(heading="Symptoms", text="does not answer its health", score=0.8)],
    )
]


def answer(**plan_overrides: Any) -> str:
    plan: dict[str, Any] = {
        "fault": "api-crash",
        "steps": [{"action": "restart-api", "params": {}, "risk": "low", "why": "process gone"}],
        "verification": {"signals": ["target.up"], "health": [], "hold_s": 1, "timeout_s": 60},
    }
    plan.update(plan_overrides)
    return json.dumps(
        {
            "hypotheses": [
                {
                    "fault": "unknown",
                    "runbook_id": None,
                    "confidence": 0.2,
                    "summary": "something else",
                    "citations": ["weak hunch"],
                },
                {
                    "fault": "api-crash",
                    "runbook_id": "api-down",
                    "confidence": 0.9,
                    "summary": "the API process is gone",
                    "citations": [{"kind": "feature", "ref": "target.up", "text": "false"}],
                },
            ],
            "plans": [plan, {"fault": "unknown", "steps": [{"action": "escalate"}]}],
        }
    )


@pytest.fixture
def runbooks() -> list[Runbook]:
    return [parse_runbook(RUNBOOK, path="api-down.md")]


@pytest.fixture
def scripted() -> Iterator[list[ScriptedLLM]]:
    made: list[ScriptedLLM] = []
    yield made
    for llm in made:
        llm.release()  # lets an abandoned crew thread finish quickly


def llm(made: list[ScriptedLLM], *finals: str, **kw: Any) -> ScriptedLLM:
    model = ScriptedLLM(model="scripted", finals=list(finals), **kw)
    made.append(model)
    return model


def test_a_good_answer_becomes_typed_diagnosis_plans_and_usage(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    model = llm(scripted, answer())
    outcome = CrewRunner(settings(tmp_path), llm=model).run(perception(), MATCHES, runbooks)

    d = outcome.diagnosis
    assert d.mode == "llm"
    assert [h.fault for h in d.hypotheses] == ["api-crash", "unknown"]  # ranked by confidence
    assert d.hypotheses[0].runbook_id == "api-down"
    assert d.hypotheses[0].citations[0].kind == "feature"
    assert d.hypotheses[1].citations[0].text == "weak hunch"

    best, fallback = outcome.plans
    assert best.hypothesis.fault == "api-crash"
    assert best.steps[0].action == "restart-api"
    assert best.steps[0].risk == "medium"  # the catalogue's risk, not the model's "low"
    assert best.verification.hold_s == 10.0  # never shorter than the configured hold
    assert best.verification.health == ["target"]
    assert fallback.steps[0].action == "escalate"
    assert fallback.steps[0].params["summary"] == "something else"

    # four tasks, one call each; 100 prompt + 20 completion tokens a call
    assert outcome.usage.calls == 4
    assert outcome.usage.prompt_tokens == 400
    assert outcome.usage.completion_tokens == 80
    assert outcome.usage.cost_usd == pytest.approx(0.4 * 0.5 + 0.08 * 1.5)

    # the evidence and the retrieval matches were in the prompts, tools or not
    everything = "\n".join(model.prompts)
    assert "target.up" in everything
    assert "connection refused" in everything
    assert "does not answer its health" in everything
    assert "REJECTED" not in everything
    # CrewAI's own record of the run stays in the agent's state dir, not in $HOME
    assert (tmp_path / "state" / "crewai" / "latest_kickoff_task_outputs.db").is_file()


def test_malformed_json_is_retried_once_with_the_error(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    model = llm(scripted, '{"hypotheses": [oops]}', answer())
    outcome = CrewRunner(settings(tmp_path), llm=model).run(perception(), MATCHES, runbooks)

    assert outcome.plans[0].steps[0].action == "restart-api"
    assert outcome.usage.calls == 8  # both attempts are paid for
    retry_prompt = next(p for p in model.prompts if "REJECTED" in p)
    assert "not valid JSON" in retry_prompt


def test_malformed_twice_raises_crew_output_error_with_usage(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    model = llm(scripted, "I think it is the API.", '{"hypotheses": []}')
    with pytest.raises(CrewOutputError) as caught:
        CrewRunner(settings(tmp_path), llm=model).run(perception(), MATCHES, runbooks)

    assert caught.value.reason == "malformed"
    assert "hypotheses" in str(caught.value)  # the second answer's schema error
    assert caught.value.usage.calls == 8
    assert model.finals == []


def test_an_action_outside_the_catalogue_is_rejected(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    rogue = answer(steps=[{"action": "drop-database", "params": {}}])
    model = llm(scripted, rogue, rogue)
    with pytest.raises(CrewOutputError) as caught:
        CrewRunner(settings(tmp_path), llm=model).run(perception(), MATCHES, runbooks)

    assert caught.value.reason == "unsafe"
    assert "'drop-database' is not a catalogue action" in str(caught.value)
    retry_prompt = next(p for p in model.prompts if "REJECTED" in p)
    assert "drop-database" in retry_prompt


def test_a_parameter_the_action_does_not_take_is_rejected(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    bad = answer(steps=[{"action": "restart-api", "params": {"signal": "KILL"}}])
    fixed = answer(steps=[{"action": "switch-to-fallback", "params": {"dependency": "db"}}])
    model = llm(scripted, bad, fixed)
    outcome = CrewRunner(settings(tmp_path), llm=model).run(perception(), MATCHES, runbooks)

    step = outcome.plans[0].steps[0]
    assert (step.action, step.params) == ("switch-to-fallback", {"dependency": "db"})
    retry_prompt = next(p for p in model.prompts if "REJECTED" in p)
    assert "bad parameters for restart-api" in retry_prompt


def test_the_policy_refuses_an_out_of_catalogue_plan_too(store: Any) -> None:
    """The parser is the first lock; the policy engine is the second, whatever made the plan.
    The action server is never asked (its URL is a closed loopback port)."""
    from action_server.client import ActionClient
    from agent.policy import PolicyContext, PolicyEngine

    s = Settings(
        ops_db_url="postgresql://unused@127.0.0.1:1/unused",
        intake_token_file=Path("/dev/null"),
        action_key_file=Path("/dev/null"),
    )
    plan = Plan(
        hypothesis=Hypothesis(fault="api-crash", confidence=0.95, summary="x"),
        steps=[PlanStep(action="drop-database", risk="low")],
    )
    with ActionClient("http://127.0.0.1:9", "unused", timeout=1) as actions:
        decisions = PolicyEngine(s, store=store, actions=actions).judge(
            plan, ctx=PolicyContext(incident_id="INC-1")
        )
    assert [d.verdict for d in decisions] == [Verdict.refuse]
    assert "not a catalogue action" in decisions[0].reason


def test_a_crew_slower_than_its_budget_raises_crew_timeout(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    model = llm(scripted, answer(), delay_s=30.0)
    runner = CrewRunner(settings(tmp_path), llm=model, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(CrewTimeout) as caught:
        runner.run(perception(), MATCHES, runbooks)
    assert time.monotonic() - started < 10.0  # bounded by the budget, not by the model
    assert "1 s" in str(caught.value)
    assert caught.value.usage.calls >= 1


def test_the_crew_calls_a_tool_and_sees_its_result(
    tmp_path: Path, runbooks: list[Runbook], scripted: list[ScriptedLLM]
) -> None:
    """A real KnowledgeIndex (hashing embedding) on a runbook dir in tmp_path."""
    from knowledge.index import KnowledgeIndex

    book_dir = tmp_path / "runbooks"
    book_dir.mkdir()
    (book_dir / "api-down.md").write_text(RUNBOOK)
    index = KnowledgeIndex(tmp_path / "state", runbook_dir=book_dir, embedding="hashing")
    index.ensure()
    call = 'Thought: look it up\nAction: knowledge_search\nAction Input: {"query": "API down"}'
    model = llm(scripted, answer(), tool_call=call)
    runner = CrewRunner(settings(tmp_path), llm=model, knowledge=index)
    outcome = runner.run(perception(), MATCHES, runbooks)

    assert outcome.plans[0].steps[0].action == "restart-api"
    observed = next(p for p in model.prompts if '"tool": "knowledge_search"' in p)
    start = observed.index("Observation: {") + len("Observation: ")
    result, _ = json.JSONDecoder().raw_decode(observed, start)
    assert result["status"] == "success"
    assert result["data"][0]["id"] == "api-down"


def test_tools_refuse_repeats_and_non_catalogue_dry_runs(tmp_path: Path) -> None:
    """The dry-run tool refuses a non-catalogue action before any request: its action
    client is a closed loopback port, so a request would come back as a connect error."""
    from action_server.client import ActionClient

    ledger = CallLedger()
    with ActionClient("http://127.0.0.1:9", "unused", timeout=1) as actions:
        tools = crew_tools(
            observability=None, knowledge=None, actions=actions, window_s=60, ledger=ledger
        )
        dry_run = next(t for t in tools["planning"] if t.name == "action_dry_run")
        refused = json.loads(dry_run.run(action="drop-database", params=[]))
        assert refused["status"] == "error"
        assert "not a catalogue action" in json.dumps(refused["data"])

        # parameters are name/value pairs (a strict tool schema admits no free-form object)
        db = [{"name": "dependency", "value": "db"}]
        unreachable = json.loads(dry_run.run(action="switch-to-fallback", params=db))
        assert unreachable["status"] == "error"
        assert unreachable["query"] == {
            "action": "switch-to-fallback",
            "params": {"dependency": "db"},
        }
        assert "ConnectError" in unreachable["error"]

        again = json.loads(dry_run.run(action="switch-to-fallback", params=db))
        assert "identical call" in again["error"]

        ledger.cancelled.set()
        late = json.loads(dry_run.run(action="clear-cache", params=[]))
        assert "cancelled" in late["error"]
    assert "dry_run" not in dry_run.args_schema.model_fields  # no way to ask for a real run
