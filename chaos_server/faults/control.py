"""noop: the control fault. Nothing changes; it exercises the ledger and the blast radius."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, RevertData


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intensity: float = Field(0.0, ge=0)  # a placebo dial: bounded like a real one


class Noop(Fault):
    """Injects nothing and reverts nothing: no incident should open."""

    id = "noop"
    fault_class = "control"
    description = "nothing (a control run)"
    targets: ClassVar[tuple[str, ...]] = (
        "target",
        "target-db",
        "upstream-primary",
        "upstream-fallback",
        "db-proxy",
    )
    params_model = NoopParams
    intensity: ClassVar[dict[str, float]] = {"intensity": 1.0}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        return {}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        return None
