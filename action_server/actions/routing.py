"""switch-to-fallback: flip a dependency's route and make the target use it."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from action_server.catalogue import ActionSpec, Risk
from action_server.context import ActionContext, Outcome, Plan, PreconditionFailed
from action_server.env_writes import apply_and_restart, restore_version

ROUTE_KEYS = {"pricing": "TARGET_PRICING_ROUTE"}


class SwitchParams(BaseModel):
    """Which dependency, and which route it should take."""

    model_config = ConfigDict(extra="forbid")

    dependency: Literal["pricing", "db"] = "pricing"
    route: Literal["primary", "fallback"] = "fallback"


def _current(ctx: ActionContext, params: SwitchParams) -> str:
    if params.dependency == "db":
        names = {s.name for s in ctx.runtime.list()}
        if "db-proxy" not in names:
            raise PreconditionFailed(
                "the db route is switched at db-proxy, which this lab does not run"
            )
        raise PreconditionFailed("db route switching is not available on this lab yet")
    return ctx.target_env().get(ROUTE_KEYS[params.dependency], "primary")


def plan(ctx: ActionContext, params: SwitchParams) -> Plan:
    """Describe the flip (or that nothing needs to change)."""
    current = _current(ctx, params)
    if current == params.route:
        return Plan(
            summary=f"{params.dependency} already routed to {params.route}",
            details={"from": current, "to": params.route},
        )
    key = ROUTE_KEYS[params.dependency]
    return Plan(
        summary=f"route {params.dependency} from {current} to {params.route}",
        changes=[f"{key}={params.route} in {ctx.paths.target_env}", "target: restarted"],
        details={"from": current, "to": params.route},
    )


def execute(ctx: ActionContext, params: SwitchParams) -> Outcome:
    """Flip the route, restart, verify /ready (which checks the selected upstream)."""
    current = _current(ctx, params)
    if current == params.route:
        return Outcome(summary=f"{params.dependency} already routed to {params.route}")
    env = ctx.target_env()
    env[ROUTE_KEYS[params.dependency]] = params.route
    _, took = apply_and_restart(ctx, env)
    return Outcome(
        summary=f"{params.dependency} routed to {params.route}; target ready in {took}s",
        details={"from": current, "to": params.route, "ready_after_s": took},
        undo={"dependency": params.dependency, "route": current},
    )


def revert(ctx: ActionContext, undo: dict[str, str]) -> Outcome:
    """Flip the route back; after a failed switch, put the replaced env file back."""
    if "version" in undo:
        took = restore_version(ctx, undo["version"])
        return Outcome(summary=f"env restored to the pre-switch version; ready in {took}s")
    return execute(ctx, SwitchParams.model_validate(undo))


SWITCH_TO_FALLBACK = ActionSpec(
    name="switch-to-fallback",
    summary="Route a dependency (pricing, db) to its fallback (or back to primary).",
    params=SwitchParams,
    risk=Risk.medium,
    idempotent=True,
    target="target",
    plan=plan,
    execute=execute,
    revert=revert,
    undo_summary="flip the route back",
)
