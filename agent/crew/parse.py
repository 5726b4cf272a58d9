"""The crew's final answer -> the same typed Diagnosis and Plans the deterministic mode makes.

Rejected (with a message the crew can act on when it is retried): text that is not one JSON
object, a shape that does not validate, a runbook id no runbook has, and -- "unsafe" -- any
action outside the catalogue or a parameter the action does not take. The policy engine
checks the catalogue again; this is the first of two locks.
"""

import json
import re
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.model import (
    CATALOGUE_ACTIONS,
    Citation,
    Diagnosis,
    Hypothesis,
    Plan,
    PlanStep,
    Risk,
    Verification,
)
from knowledge.runbook import Runbook

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_RISK_ORDER = {"low": 0, "medium": 1, "high": 2}


class OutputRejected(ValueError):
    """Why an answer cannot be used; `reason` is "malformed" or "unsafe"."""

    def __init__(self, message: str, *, reason: Literal["malformed", "unsafe"]) -> None:
        super().__init__(message)
        self.reason = reason


class _CitationIn(BaseModel):
    kind: Literal["signal", "feature", "runbook", "past_incident", "log", "trace"] = "signal"
    ref: str = Field(min_length=1, max_length=300)
    text: str = Field("", max_length=2000)
    score: float | None = None


class _HypothesisIn(BaseModel):
    fault: str = Field(min_length=1, max_length=100)
    runbook_id: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(min_length=1, max_length=4000)
    citations: list[_CitationIn | str] = Field(default_factory=list, max_length=50)


class _StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = "low"
    why: str = Field("", max_length=2000)


class _VerificationIn(BaseModel):
    signals: list[str] = Field(default_factory=list, max_length=50)
    health: list[str] = Field(default_factory=list, max_length=20)
    hold_s: float | None = Field(None, ge=0)
    timeout_s: float | None = Field(None, gt=0)


class _PlanIn(BaseModel):
    fault: str
    steps: list[_StepIn] = Field(min_length=1, max_length=20)
    verification: _VerificationIn = Field(default_factory=_VerificationIn)


class _AnswerIn(BaseModel):
    hypotheses: list[_HypothesisIn] = Field(min_length=1, max_length=10)
    plans: list[_PlanIn] = Field(min_length=1, max_length=10)


def extract_json(text: str) -> dict[str, Any]:
    """The one JSON object in `text` (a code fence or surrounding prose tolerated)."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end <= start:
        raise OutputRejected("the answer contains no JSON object", reason="malformed")
    try:
        value = json.loads(candidate[start : end + 1])
    except json.JSONDecodeError as exc:
        raise OutputRejected(f"the answer is not valid JSON: {exc}", reason="malformed") from None
    if not isinstance(value, dict):
        raise OutputRejected("the answer must be a JSON object", reason="malformed")
    return value


@cache
def _param_models() -> dict[str, type[BaseModel]]:
    # The action server's own parameter models: the exact rules it will apply.
    from action_server.actions import CATALOGUE

    return {name: spec.params for name, spec in CATALOGUE.items()}


@cache
def _catalogue_risk() -> dict[str, str]:
    from action_server.actions import CATALOGUE

    return {name: spec.risk.value for name, spec in CATALOGUE.items()}


def check_step(step: _StepIn, where: str) -> None:
    """Unsafe unless the action is in the catalogue and every parameter is one it takes,
    of the right type (a missing required parameter is left for the act step to fill)."""
    if step.action not in CATALOGUE_ACTIONS:
        raise OutputRejected(
            f"{where}: {step.action!r} is not a catalogue action; use only "
            + ", ".join(CATALOGUE_ACTIONS),
            reason="unsafe",
        )
    model = _param_models().get(step.action)
    if model is None:
        raise OutputRejected(
            f"{where}: {step.action!r} is unknown to the action server", reason="unsafe"
        )
    try:
        model.model_validate(step.params)
    except ValidationError as exc:
        problems = [e for e in exc.errors() if e["type"] != "missing"]
        if problems:
            allowed = ", ".join(model.model_fields) or "none"
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems
            )
            raise OutputRejected(
                f"{where}: bad parameters for {step.action} ({detail}); it takes: {allowed}",
                reason="unsafe",
            ) from None


def _citation(raw: _CitationIn | str) -> Citation:
    if isinstance(raw, str):
        return Citation(kind="signal", ref=raw[:300], text=raw)
    return Citation(kind=raw.kind, ref=raw.ref, text=raw.text, score=raw.score)


def _step(raw: _StepIn, hypothesis: Hypothesis) -> PlanStep:
    params = dict(raw.params)
    if raw.action == "escalate" and "summary" not in params:
        params["summary"] = hypothesis.summary[:2000]
    floor = _catalogue_risk().get(raw.action, "low")
    # a model may not talk an action's risk down below the catalogue's
    risk: Risk = raw.risk if _RISK_ORDER[raw.risk] >= _RISK_ORDER[floor] else floor  # type: ignore[assignment]
    return PlanStep(action=raw.action, params=params, risk=risk, why=raw.why)


def parse_answer(
    text: str,
    runbooks: list[Runbook],
    *,
    min_hold_s: float,
    default_timeout_s: float,
) -> tuple[Diagnosis, list[Plan]]:
    """Typed diagnosis (mode "llm") and plans, or OutputRejected saying what is wrong."""
    raw = extract_json(text)
    try:
        answer = _AnswerIn.model_validate(raw)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise OutputRejected(
            f"the JSON does not match the format: {detail}", reason="malformed"
        ) from None
    for i, plan_in in enumerate(answer.plans):
        for j, step_in in enumerate(plan_in.steps):
            check_step(step_in, f"plans[{i}].steps[{j}]")
    books = {b.id: b for b in runbooks}
    hypotheses: list[Hypothesis] = []
    for i, h in enumerate(answer.hypotheses):
        if h.runbook_id is not None and h.runbook_id not in books:
            raise OutputRejected(
                f"hypotheses[{i}]: runbook_id {h.runbook_id!r} does not exist; known: "
                + ", ".join(sorted(books)),
                reason="malformed",
            )
        hypotheses.append(
            Hypothesis(
                fault=h.fault,
                runbook_id=h.runbook_id,
                confidence=h.confidence,
                summary=h.summary,
                citations=[_citation(c) for c in h.citations],
            )
        )
    hypotheses.sort(key=lambda h: h.confidence, reverse=True)
    by_fault = {h.fault: h for h in reversed(hypotheses)}  # the best one per fault wins
    plans: list[Plan] = []
    for i, plan_in in enumerate(answer.plans):
        hypothesis = by_fault.get(plan_in.fault)
        if hypothesis is None:
            raise OutputRejected(
                f"plans[{i}]: fault {plan_in.fault!r} has no hypothesis", reason="malformed"
            )
        book = books.get(hypothesis.runbook_id or "")
        v = plan_in.verification
        hold = max(v.hold_s if v.hold_s is not None else min_hold_s, min_hold_s)
        timeout = max(v.timeout_s if v.timeout_s is not None else default_timeout_s, hold)
        health = list(dict.fromkeys(["target", *v.health]))
        signals = v.signals or (list(book.verify_signals) if book else [])
        plans.append(
            Plan(
                hypothesis=hypothesis,
                steps=[_step(s, hypothesis) for s in plan_in.steps],
                verification=Verification(
                    signals=signals, health=health, hold_s=hold, timeout_s=timeout
                ),
            )
        )
    rank = {h.fault: n for n, h in reversed(list(enumerate(hypotheses)))}
    plans.sort(key=lambda p: rank[p.hypothesis.fault])
    return Diagnosis(hypotheses=hypotheses, mode="llm", notes="CrewAI crew"), plans
