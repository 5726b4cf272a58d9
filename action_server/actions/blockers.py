"""terminate-db-blockers: end sessions that block others or are not the target app's."""

import time

import psycopg2

from action_server.catalogue import ActionSpec, NoParams, Risk
from action_server.context import ActionContext, ActionFailed, Outcome, Plan, PreconditionFailed
from action_server.db_admin import admin_connection, terminate
from action_server.db_sessions import DbSession, classify, foreign_blockers, sessions

__all__ = ["TERMINATE_DB_BLOCKERS"]

SETTLE_TIMEOUT_S = 5.0


def _survey(ctx: ActionContext) -> tuple[list[DbSession], list[DbSession]]:
    try:
        with admin_connection(ctx.target_db) as conn:
            return classify(sessions(conn))
    except psycopg2.Error as exc:
        raise PreconditionFailed(f"target-db is not reachable: {exc.pgerror or exc}") from None


def _change(s: DbSession) -> str:
    return f"terminate pid {s.pid} ({s.usename}, {s.application_name!r}, {s.state}): {s.reason}"


def plan_blockers(ctx: ActionContext, params: NoParams) -> Plan:
    """List the sessions that would be terminated, and the protected blockers left alone."""
    candidates, protected = _survey(ctx)
    details = {
        "candidates": [s.describe() for s in candidates],
        "protected": [s.describe() for s in protected],
    }
    if not candidates:
        return Plan(
            summary="no blocking or foreign sessions on shop: nothing to do", details=details
        )
    return Plan(
        summary=f"terminate {len(candidates)} session(s) on shop",
        changes=[_change(s) for s in candidates],
        details=details,
    )


def execute_blockers(ctx: ActionContext, params: NoParams) -> Outcome:
    """Terminate the candidates, then check they are gone and nothing foreign still blocks."""
    candidates, protected = _survey(ctx)
    if not candidates:
        return Outcome(summary="nothing to terminate", details={"terminated": []})
    wanted = {s.pid for s in candidates}
    try:
        with admin_connection(ctx.target_db) as conn:
            signalled = set(terminate(conn, sorted(wanted)))
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while True:
                now = sessions(conn)
                left = sorted(wanted & {s.pid for s in now})
                blockers = foreign_blockers(now)
                if (not left and not blockers) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    except psycopg2.Error as exc:
        raise ActionFailed(f"target-db failed during termination: {exc.pgerror or exc}") from None
    details = {
        "terminated": [s.describe() for s in candidates if s.pid in signalled],
        "protected": [s.describe() for s in protected],
    }
    if left:
        raise ActionFailed(f"sessions {left} are still connected after pg_terminate_backend")
    if blockers:
        shown = [(s.pid, s.application_name) for s in blockers]
        raise ActionFailed(f"sessions that are not the app's still block others: {shown}")
    return Outcome(summary=f"terminated {len(signalled)} session(s) on shop", details=details)


TERMINATE_DB_BLOCKERS = ActionSpec(
    name="terminate-db-blockers",
    summary="Terminate sessions that block others or are not the target app's (never its own).",
    params=NoParams,
    risk=Risk.medium,
    idempotent=True,
    target="target-db",
    plan=plan_blockers,
    execute=execute_blockers,
    durable=False,
    backends=("local", "docker"),
)
