"""scale-out: only where the runtime backend can run more replicas."""

from pydantic import BaseModel, ConfigDict, Field

from action_server.catalogue import ActionSpec, Risk
from action_server.context import ActionContext, Outcome, Plan, Unsupported
from lab.errors import LabError


class ScaleParams(BaseModel):
    """How many replicas of which service."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field("target", pattern=r"^[a-z0-9-]{1,40}$")
    replicas: int = Field(2, ge=1, le=10)


def _scaler(ctx: ActionContext) -> object:
    scale = getattr(ctx.runtime, "scale", None)
    can_scale = getattr(ctx.runtime, "can_scale", None)
    if scale is None or can_scale is None or not can_scale():
        raise Unsupported(
            f"the {type(ctx.runtime).__name__} backend runs one process per service and cannot "
            "scale out; use the docker or kubernetes backend"
        )
    return scale


def plan(ctx: ActionContext, params: ScaleParams) -> Plan:
    """Check the backend can scale, describe the change."""
    _scaler(ctx)
    return Plan(
        summary=f"scale {params.service} to {params.replicas} replicas",
        changes=[f"{params.service}: replicas -> {params.replicas}"],
    )


def execute(ctx: ActionContext, params: ScaleParams) -> Outcome:
    """Ask the backend to scale."""
    scale = _scaler(ctx)
    try:
        scale(params.service, params.replicas)  # type: ignore[operator]
    except LabError as exc:
        raise Unsupported(str(exc)) from None
    return Outcome(summary=f"{params.service} scaled to {params.replicas} replicas")


SCALE_OUT = ActionSpec(
    name="scale-out",
    summary="Run more replicas of a service (docker/kubernetes backends).",
    params=ScaleParams,
    risk=Risk.high,
    idempotent=True,
    target="target",
    plan=plan,
    execute=execute,
    backends=("local", "docker"),
)
