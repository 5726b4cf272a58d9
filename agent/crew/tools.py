"""The crew's tools: observability reads, knowledge retrieval, the action catalogue and
dry runs. None of them can run a real action, and none touches the chaos server.

Each is a CrewAI BaseTool with a pydantic args schema: the provider sends the schemas as
function definitions and CrewAI validates the model's tool-call arguments against them.

Every tool answers one JSON document `{status, tool, query, data?, error?}` with status
`success | error | no_data`, the exact query and the upstream error text, so a model can
correct itself; an identical repeated call is refused (HolmesGPT's tool safeguards).
"""

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

from crewai.tools import BaseTool
from pydantic import BaseModel, Field, PrivateAttr

from agent.model import CATALOGUE_ACTIONS, Perception
from agent.tool_results import Status, result
from knowledge.retrieval import Match


class ObservabilityReads(Protocol):
    """What the tools read from observability (agent.perceive.ObservabilityClient)."""

    def perceive(self, window_s: float) -> Perception: ...

    def firing(self) -> list[dict[str, Any]]: ...


class KnowledgeSearch(Protocol):
    """Retrieval over runbooks and past incidents (knowledge.index.KnowledgeIndex)."""

    def query(self, text: str, k: int = 5) -> list[Match]: ...


class ActionReads(Protocol):
    """The action server calls the tools may make (action_server.client.ActionClient)."""

    def actions(self) -> list[dict[str, Any]]: ...

    def act(
        self, name: str, params: dict[str, Any] | None = None, *, dry_run: bool = False
    ) -> Any: ...


class CallLedger:
    """The calls made during one crew run: refuses an identical repeat, stops after cancel."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.cancelled = threading.Event()
        self.calls: list[str] = []

    def claim(self, tool: str, query: dict[str, Any]) -> str | None:
        """None if the call may go ahead, else why not."""
        if self.cancelled.is_set():
            return "the run was cancelled (time budget spent); give your final answer now"
        key = tool + json.dumps(query, sort_keys=True, default=str)
        with self._lock:
            self.calls.append(tool)
            if key in self._seen:
                return "identical call already made in this run: use its result"
            self._seen.add(key)
        return None


class LedgerTool(BaseTool):
    """A tool that checks the run's ledger and turns upstream failures into error results."""

    _ledger: CallLedger = PrivateAttr(default_factory=CallLedger)

    def bind(self, ledger: CallLedger) -> "LedgerTool":
        """Use `ledger` for repeat and cancel checks; returns self."""
        self._ledger = ledger
        return self

    def _guarded(self, query: dict[str, Any], fetch: Callable[[], tuple[Status, Any]]) -> str:
        refusal = self._ledger.claim(self.name, query)
        if refusal is not None:
            return result(self.name, query, "error", error=refusal)
        try:
            status, data = fetch()
        except Exception as exc:  # an upstream failure is the model's information
            return result(self.name, query, "error", error=f"{type(exc).__name__}: {exc}")
        return result(self.name, query, status, data)


class NoArgs(BaseModel):
    """A tool that takes no arguments."""


class ServiceArgs(BaseModel):
    service: str | None = Field(None, description="one service (target, target-db...) or all")


class AlertsTool(LedgerTool):
    name: str = "firing_alerts"
    description: str = "The alerts observability has firing now (name, service, severity)."
    args_schema: type[BaseModel] = NoArgs
    _obs: ObservabilityReads = PrivateAttr()

    def _run(self) -> str:
        def fetch() -> tuple[Status, Any]:
            alerts = self._obs.firing()
            return ("success" if alerts else "no_data"), alerts

        return self._guarded({}, fetch)


class SnapshotTool(LedgerTool):
    name: str = "observability_snapshot"
    description: str = "Latest value of every metric, by service, from observability."
    args_schema: type[BaseModel] = ServiceArgs
    _obs: ObservabilityReads = PrivateAttr()
    _window_s: float = PrivateAttr()

    def _run(self, service: str | None = None) -> str:
        def fetch() -> tuple[Status, Any]:
            seen = self._obs.perceive(self._window_s)
            services = seen.snapshot.get("services", {})
            if service is not None:
                services = {k: v for k, v in services.items() if k == service}
            if not services:
                return "no_data", {"errors": seen.errors}
            return "success", {"services": services, "errors": seen.errors}

        return self._guarded({"service": service}, fetch)


class EvidenceTool(LedgerTool):
    name: str = "observability_evidence"
    description: str = (
        "Correlated trends, log lines, slow or failed trace ids and derived features "
        "from observability over the recent window."
    )
    args_schema: type[BaseModel] = ServiceArgs
    _obs: ObservabilityReads = PrivateAttr()
    _window_s: float = PrivateAttr()

    def _run(self, service: str | None = None) -> str:
        def fetch() -> tuple[Status, Any]:
            seen = self._obs.perceive(self._window_s)
            features = seen.features
            if service is not None:
                features = {k: v for k, v in features.items() if service in k}
            data = {
                "features": features,
                "evidence": seen.evidence,
                "log_lines": seen.log_lines[-30:],
                "trace_ids": seen.trace_ids[:20],
                "errors": seen.errors,
            }
            empty = not (features or seen.evidence or seen.log_lines)
            return ("no_data" if empty else "success"), data

        return self._guarded({"service": service}, fetch)


class SearchArgs(BaseModel):
    query: str = Field(min_length=3, max_length=500, description="symptoms to look up")
    k: int = Field(5, ge=1, le=10, description="how many documents")


class KnowledgeTool(LedgerTool):
    name: str = "knowledge_search"
    description: str = "Runbooks and past incidents similar to a description, best first."
    args_schema: type[BaseModel] = SearchArgs
    _index: KnowledgeSearch = PrivateAttr()

    def _run(self, query: str, k: int = 5) -> str:
        def fetch() -> tuple[Status, Any]:
            matches = self._index.query(query, k=k)
            data = [m.model_dump() for m in matches]
            return ("success" if data else "no_data"), data

        return self._guarded({"query": query, "k": k}, fetch)


class CatalogueTool(LedgerTool):
    name: str = "action_catalogue"
    description: str = "The action server's catalogue: each action's parameters and risk."
    args_schema: type[BaseModel] = NoArgs
    _actions: ActionReads = PrivateAttr()

    def _run(self) -> str:
        def fetch() -> tuple[Status, Any]:
            return "success", self._actions.actions()

        return self._guarded({}, fetch)


class ParamArg(BaseModel):
    name: str = Field(description="a parameter the action takes")
    value: str | int | float | bool = Field(description="its value")


class DryRunArgs(BaseModel):
    """The parameters as name/value pairs, not a free-form object: CrewAI sends tool schemas
    in strict mode, where an object without declared properties can only be empty."""

    action: str = Field(description="a catalogue action name")
    params: list[ParamArg] = Field(
        default_factory=list, description="its parameters, each a name and a value; [] for none"
    )


class DryRunTool(LedgerTool):
    name: str = "action_dry_run"
    description: str = (
        "Ask the action server whether an action would run and what it would change, "
        "WITHOUT running it (always a dry run)."
    )
    args_schema: type[BaseModel] = DryRunArgs
    _actions: ActionReads = PrivateAttr()

    def _run(self, action: str, params: list[dict[str, Any]] | None = None) -> str:
        given = {p["name"]: p["value"] for p in params or []}
        query = {"action": action, "params": given}

        def fetch() -> tuple[Status, Any]:
            if action not in CATALOGUE_ACTIONS:
                return "error", {"refused": f"{action!r} is not a catalogue action"}
            run = self._actions.act(action, given, dry_run=True)
            dump = run.model_dump(mode="json") if isinstance(run, BaseModel) else run
            return "success", dump

        return self._guarded(query, fetch)


def crew_tools(
    *,
    observability: ObservabilityReads | None,
    knowledge: KnowledgeSearch | None,
    actions: ActionReads | None,
    window_s: float,
    ledger: CallLedger,
) -> dict[str, list[BaseTool]]:
    """Tools per crew role (perception, diagnosis, planning, verification); a missing
    backend simply contributes no tool."""
    obs_tools: list[LedgerTool] = []
    if observability is not None:
        alerts, snapshot, evidence_tool = AlertsTool(), SnapshotTool(), EvidenceTool()
        alerts._obs = snapshot._obs = evidence_tool._obs = observability
        snapshot._window_s = evidence_tool._window_s = window_s
        obs_tools = [alerts, snapshot, evidence_tool]
    know_tools: list[LedgerTool] = []
    if knowledge is not None:
        search = KnowledgeTool()
        search._index = knowledge
        know_tools = [search]
    act_tools: list[LedgerTool] = []
    if actions is not None:
        catalogue, dry_run = CatalogueTool(), DryRunTool()
        catalogue._actions = dry_run._actions = actions
        act_tools = [catalogue, dry_run]
    for tool in (*obs_tools, *know_tools, *act_tools):
        tool.bind(ledger)
    evidence = [t for t in obs_tools if isinstance(t, EvidenceTool)]
    return {
        "perception": list(obs_tools),
        "diagnosis": [*evidence, *know_tools],
        "planning": [*act_tools, *know_tools],
        "verification": [*evidence, *[t for t in act_tools if isinstance(t, DryRunTool)]],
    }
