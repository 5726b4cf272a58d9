"""The action catalogue: every action's parameters, risk, idempotency, target and undo."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from action_server.context import ActionContext, Outcome, Plan


class Risk(StrEnum):
    """How much an action can hurt if it is the wrong one."""

    low = "low"
    medium = "medium"
    high = "high"


class NoParams(BaseModel):
    """For actions that take no parameters."""

    model_config = ConfigDict(extra="forbid")


PlanFn = Callable[[ActionContext, Any], Plan]
ExecuteFn = Callable[[ActionContext, Any], Outcome]
RevertFn = Callable[[ActionContext, dict[str, Any]], Outcome]


@dataclass(frozen=True)
class ActionSpec:
    """One catalogue entry.

    `plan` validates preconditions (raising PreconditionFailed) and describes the change
    without making it: it is the whole of a dry run. `execute` acts and verifies its own
    postcondition, raising ActionFailed (with what to revert) when it does not hold.
    `revert` undoes a successful or failed run from the `undo` data its Outcome recorded.
    """

    name: str
    summary: str
    params: type[BaseModel]
    risk: Risk
    idempotent: bool
    target: str
    plan: PlanFn
    execute: ExecuteFn
    revert: RevertFn | None = None
    undo_summary: str | None = None
    mutating: bool = True
    durable: bool = True  # changes config or data that a later undo would overwrite
    also_locks: tuple[str, ...] = ()  # other targets it touches, locked with `target`
    backends: tuple[str, ...] = ("local",)  # runtime backends it knows how to act on

    def describe(self) -> dict[str, Any]:
        """The public catalogue entry (`GET /actions`)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "parameters": self.params.model_json_schema(),
            "risk": self.risk.value,
            "idempotent": self.idempotent,
            "mutating": self.mutating,
            "target": self.target,
            "undo": self.undo_summary if self.revert is not None else None,
            "backends": list(self.backends),
        }
