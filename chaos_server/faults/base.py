"""The one interface every fault implements; new catalogue faults slot in as subclasses."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from chaos_server.context import ChaosContext

RevertData = dict[str, Any]


class NoParams(BaseModel):
    """A fault without parameters."""

    model_config = ConfigDict(extra="forbid")


class FaultRefused(Exception):
    """The fault must not be injected now (nothing was changed); answered 409."""


class Fault:
    """One catalogue fault.

    `prepare` runs before the intent is written and returns what a revert needs even if the
    injection dies half-way; `inject` applies the fault and returns more revert data;
    `revert` undoes it. Both `inject` and `revert` are idempotent, and `revert` leaves alone
    whatever someone else has already fixed.
    """

    id: ClassVar[str]
    fault_class: ClassVar[str]
    description: ClassVar[str]
    targets: ClassVar[tuple[str, ...]]  # services this fault can act on; the first is default
    params_model: ClassVar[type[BaseModel]] = NoParams
    intensity: ClassVar[dict[str, float]] = {}  # parameter -> default maximum

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        """Check preconditions and capture the state a revert returns to."""
        return {}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        """Apply the fault; `fault_key` names this injection (the ledger id)."""
        raise NotImplementedError

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        """Undo the fault; safe to call twice, and after someone else fixed it."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The fault as `GET /catalogue` shows it."""
        return {
            "id": self.id,
            "class": self.fault_class,
            "description": self.description,
            "targets": list(self.targets),
            "params": self.params_model.model_json_schema(),
            "intensity_max": dict(self.intensity),
        }
