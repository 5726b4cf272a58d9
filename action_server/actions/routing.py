"""switch-to-fallback: flip a dependency's route and make the target use it.

pricing: primary or fallback pricing service (TARGET_PRICING_ROUTE).
db: db-proxy's primary lane or its fallback lane (two network paths to target-db),
TARGET_DB_ROUTE plus the port of TARGET_DATABASE_URL.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import make_url

from action_server.catalogue import ActionSpec, Risk
from action_server.context import ActionContext, Outcome, Plan, PreconditionFailed
from action_server.env_writes import apply_and_restart, restore_version

ROUTE_KEYS = {"pricing": "TARGET_PRICING_ROUTE", "db": "TARGET_DB_ROUTE"}


class SwitchParams(BaseModel):
    """Which dependency, and which route it should take."""

    model_config = ConfigDict(extra="forbid")

    dependency: Literal["pricing", "db"] = "pricing"
    route: Literal["primary", "fallback"] = "fallback"


def _current(ctx: ActionContext, params: SwitchParams) -> str:
    return ctx.target_env().get(ROUTE_KEYS[params.dependency], "primary")


def _check_route(ctx: ActionContext, params: SwitchParams) -> None:
    if params.dependency != "db":
        return
    if params.route not in ctx.db_route_ports:
        raise PreconditionFailed(f"no port known for the db route {params.route!r}")
    # Both routes are lanes of db-proxy (two network paths to target-db): with db-proxy
    # stopped there is no route to switch to.
    proxy = {s.name: s.health for s in ctx.runtime.list()}.get("db-proxy", "stopped")
    if proxy == "stopped":
        raise PreconditionFailed(
            f"the {params.route} db route goes through db-proxy, which is stopped"
        )


def _env_for(ctx: ActionContext, params: SwitchParams) -> dict[str, str]:
    env = ctx.target_env()
    env[ROUTE_KEYS[params.dependency]] = params.route
    if params.dependency == "db":
        url = make_url(env["TARGET_DATABASE_URL"]).set(port=ctx.db_route_ports[params.route])
        env["TARGET_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return env


def plan(ctx: ActionContext, params: SwitchParams) -> Plan:
    """Describe the flip (or that nothing needs to change)."""
    _check_route(ctx, params)
    current = _current(ctx, params)
    if current == params.route:
        return Plan(
            summary=f"{params.dependency} already routed to {params.route}",
            details={"from": current, "to": params.route},
        )
    changes = [f"{ROUTE_KEYS[params.dependency]}={params.route} in {ctx.paths.target_env}"]
    if params.dependency == "db":
        changes.append(f"TARGET_DATABASE_URL port -> {ctx.db_route_ports[params.route]}")
    return Plan(
        summary=f"route {params.dependency} from {current} to {params.route}",
        changes=[*changes, "target: restarted"],
        details={"from": current, "to": params.route},
    )


def execute(ctx: ActionContext, params: SwitchParams) -> Outcome:
    """Flip the route, restart, verify /ready (which checks the DB and selected upstream)."""
    _check_route(ctx, params)
    current = _current(ctx, params)
    if current == params.route:
        return Outcome(summary=f"{params.dependency} already routed to {params.route}")
    _, took = apply_and_restart(ctx, _env_for(ctx, params))
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
    backends=("local", "docker"),
)
