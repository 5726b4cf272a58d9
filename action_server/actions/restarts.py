"""restart-api and restart-db: through the runtime backend, then wait for readiness."""

import time

from action_server.catalogue import ActionSpec, NoParams, Risk
from action_server.context import ActionContext, ActionFailed, Outcome, Plan
from action_server.readiness import wait_target_ready


def plan_api(ctx: ActionContext, params: NoParams) -> Plan:
    """Describe restarting the target API."""
    status = ctx.runtime.status("target")
    return Plan(
        summary="restart the target API, then wait for /ready",
        changes=[f"target: process {status.pid or '(not running)'} replaced by a new one"],
        details={"service": "target", "health_before": status.health, "pid_before": status.pid},
    )


def execute_api(ctx: ActionContext, params: NoParams) -> Outcome:
    """Restart the target API and wait until /ready answers 200."""
    before = ctx.runtime.status("target").pid
    started = time.monotonic()
    after = ctx.runtime.restart("target").pid
    ready_after = wait_target_ready(ctx)
    took = round(time.monotonic() - started, 3)
    if ready_after is None:
        raise ActionFailed(f"target restarted (pid {after}) but not ready after {took}s")
    return Outcome(
        summary=f"target restarted and ready in {took}s",
        details={"pid_before": before, "pid_after": after, "took_s": took},
    )


def plan_db(ctx: ActionContext, params: NoParams) -> Plan:
    """Describe restarting target-db."""
    status = ctx.runtime.status("target-db")
    return Plan(
        summary="restart target-db, then wait until it accepts connections",
        changes=[
            f"target-db: postmaster {status.pid or '(not running)'} restarted; "
            "open sessions are cut"
        ],
        details={"service": "target-db", "health_before": status.health, "pid_before": status.pid},
    )


def execute_db(ctx: ActionContext, params: NoParams) -> Outcome:
    """Restart target-db and wait until it accepts connections (its own readiness)."""
    before = ctx.runtime.status("target-db").pid
    started = time.monotonic()
    after = ctx.runtime.restart("target-db").pid
    deadline = started + ctx.ready_timeout_s
    while not ctx.target_db.is_ready():
        if time.monotonic() > deadline:
            raise ActionFailed(f"target-db restarted (pid {after}) but not accepting connections")
        time.sleep(0.1)
    took = round(time.monotonic() - started, 3)
    return Outcome(
        summary=f"target-db restarted and accepting connections in {took}s",
        details={"pid_before": before, "pid_after": after, "took_s": took},
    )


RESTART_API = ActionSpec(
    name="restart-api",
    summary="Restart the target API process and wait for /ready.",
    params=NoParams,
    risk=Risk.medium,
    idempotent=False,
    target="target",
    plan=plan_api,
    execute=execute_api,
    durable=False,
    backends=("local", "docker"),
)
RESTART_DB = ActionSpec(
    name="restart-db",
    summary="Restart target-db and wait until it accepts connections.",
    params=NoParams,
    risk=Risk.medium,
    idempotent=False,
    target="target-db",
    plan=plan_db,
    execute=execute_db,
    durable=False,
    backends=("local", "docker"),
)
