"""regenerate-env and rollback-config: the target's credentials and configuration."""

import secrets

from psycopg2 import sql
from sqlalchemy.engine import make_url

from action_server.catalogue import ActionSpec, NoParams, Risk
from action_server.context import ActionContext, Outcome, Plan, PreconditionFailed
from action_server.env_writes import apply_and_restart, changed_keys, restore_version
from action_server.known_good import known_good
from lab.secrets import replace_secret
from lab.services import APP_PASSWORD, APP_ROLE


def plan_regenerate(ctx: ActionContext, params: NoParams) -> Plan:
    """Describe the credential rotation (no secret in it)."""
    if "TARGET_DATABASE_URL" not in ctx.target_env():
        raise PreconditionFailed("the target's env file has no TARGET_DATABASE_URL")
    return Plan(
        summary=f"rotate the password of role {APP_ROLE}, rewrite the target's env, restart it",
        changes=[
            f"ALTER ROLE {APP_ROLE} PASSWORD <new>",
            f"{ctx.paths.target_env}: TARGET_DATABASE_URL password replaced (old file kept)",
            "target: restarted, then /ready awaited",
        ],
        details={"role": APP_ROLE},
    )


def execute_regenerate(ctx: ActionContext, params: NoParams) -> Outcome:
    """New password in the DB and the env file (atomically), restart, verify readiness."""
    env = ctx.target_env()
    password = secrets.token_urlsafe(24)
    conn = ctx.target_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET log_min_error_statement = panic; SET log_statement = none")
            cur.execute(
                sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(APP_ROLE)), (password,)
            )
    finally:
        conn.close()
    url = make_url(env["TARGET_DATABASE_URL"]).set(password=password)
    env["TARGET_DATABASE_URL"] = url.render_as_string(hide_password=False)
    replace_secret(ctx.paths.secret(APP_PASSWORD), password)
    replaced, took = apply_and_restart(ctx, env)
    return Outcome(
        summary=f"password of {APP_ROLE} rotated; target ready in {took}s",
        details={"role": APP_ROLE, "previous_env_version": replaced, "ready_after_s": took},
    )


def plan_rollback(ctx: ActionContext, params: NoParams) -> Plan:
    """Which keys the last known good env would change (names only)."""
    good = known_good(ctx)
    if good is None:
        raise PreconditionFailed("no known good env recorded yet (the target was never ready)")
    keys = changed_keys(ctx.target_env(), good)
    if not keys:
        raise PreconditionFailed("the current env already is the last known good one")
    return Plan(
        summary=f"restore the last env under which the target was ready ({len(keys)} keys)",
        changes=[f"{key}: back to its known good value" for key in keys] + ["target: restarted"],
        details={"keys": keys},
    )


def execute_rollback(ctx: ActionContext, params: NoParams) -> Outcome:
    """Write the known good env, restart, verify; the replaced version is the undo."""
    good = known_good(ctx)
    if good is None:
        raise PreconditionFailed("no known good env recorded")
    keys = changed_keys(ctx.target_env(), good)
    replaced, took = apply_and_restart(ctx, good)
    return Outcome(
        summary=f"env rolled back ({len(keys)} keys); target ready in {took}s",
        details={"keys": keys, "ready_after_s": took},
        undo={"version": replaced},
    )


def revert_rollback(ctx: ActionContext, undo: dict[str, str]) -> Outcome:
    """Put back the env the rollback replaced."""
    took = restore_version(ctx, undo["version"])
    return Outcome(summary=f"env restored to the pre-rollback version; ready in {took}s")


REGENERATE_ENV = ActionSpec(
    name="regenerate-env",
    summary="Rotate the app's DB password in Postgres and the env file, restart, verify.",
    params=NoParams,
    risk=Risk.high,
    idempotent=False,
    target="target",
    plan=plan_regenerate,
    execute=execute_regenerate,
    also_locks=("target-db",),
    backends=("local", "docker"),
)
ROLLBACK_CONFIG = ActionSpec(
    name="rollback-config",
    summary="Restore the last env under which the target was ready, restart, verify.",
    params=NoParams,
    risk=Risk.high,
    idempotent=True,
    target="target",
    plan=plan_rollback,
    execute=execute_rollback,
    revert=revert_rollback,
    undo_summary="restore the env version the rollback replaced",
    backends=("local", "docker"),
)
