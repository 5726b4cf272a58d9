"""run-migrations: Alembic upgrade of the target database to head; undo downgrades."""

from typing import Any

from sqlalchemy.engine import make_url

from action_server.catalogue import ActionSpec, NoParams, Risk
from action_server.context import ActionContext, ActionFailed, Outcome, Plan, PreconditionFailed
from action_server.db_admin import ACTION_APP_NAME, LOCK_TIMEOUT
from target_server import migrations

__all__ = ["RUN_MIGRATIONS"]


def _url(ctx: ActionContext) -> str:
    """The app's URL, tagged as ours and bounded by a lock timeout (it carries a password)."""
    url = make_url(ctx.app_database_url())
    url = url.update_query_dict(
        {"application_name": ACTION_APP_NAME, "options": f"-c lock_timeout={LOCK_TIMEOUT}"}
    )
    return url.render_as_string(hide_password=False)


def _redact(ctx: ActionContext, exc: BaseException) -> str:
    """An exception's text with the app password cut out, whatever the driver put in it."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    password = make_url(ctx.app_database_url()).password
    return text.replace(str(password), "***") if password else text


def _current(ctx: ActionContext, url: str) -> str | None:
    try:
        return migrations.current_revision(url)
    except Exception as exc:
        raise PreconditionFailed(
            f"cannot read the target's revision: {_redact(ctx, exc)}"
        ) from None


def plan_migrations(ctx: ActionContext, params: NoParams) -> Plan:
    """From which revision to head an upgrade would go; nothing to do when at head."""
    current, head = _current(ctx, _url(ctx)), migrations.head_revision()
    if current == head:
        return Plan(summary=f"already at head {head}: nothing to do", details={"from": current})
    return Plan(
        summary=f"upgrade the target database from {current or 'base'} to {head}",
        changes=[f"alembic upgrade {current or 'base'} -> {head} on shop"],
        details={"from": current, "to": head},
    )


def execute_migrations(ctx: ActionContext, params: NoParams) -> Outcome:
    """Upgrade to head and check that the database records head."""
    url, head = _url(ctx), migrations.head_revision()
    before = _current(ctx, url)
    if before == head:
        return Outcome(summary=f"already at head {head}", details={"from": head, "to": head})
    undo = {"revision": before}
    try:
        migrations.upgrade(url, "head")
    except Exception as exc:
        raise ActionFailed(f"upgrade to {head} failed: {_redact(ctx, exc)}", undo=undo) from None
    after = migrations.current_revision(url)
    if after != head:
        raise ActionFailed(f"upgrade ended at {after}, not head {head}", undo=undo)
    return Outcome(
        summary=f"upgraded from {before or 'base'} to {head}",
        details={"from": before, "to": head},
        undo=undo,
    )


def revert_migrations(ctx: ActionContext, undo: dict[str, Any]) -> Outcome:
    """Downgrade back to the revision recorded before the upgrade, and check it."""
    revision = undo.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise PreconditionFailed("undo data names no revision")
    url = _url(ctx)
    before = _current(ctx, url)
    try:
        migrations.downgrade(url, revision or "base")
    except Exception as exc:
        raise ActionFailed(f"downgrade to {revision} failed: {_redact(ctx, exc)}") from None
    after = migrations.current_revision(url)
    if after != revision:
        raise ActionFailed(f"downgrade ended at {after}, not {revision}")
    return Outcome(
        summary=f"downgraded from {before} to {revision or 'base'}",
        details={"from": before, "to": revision},
    )


RUN_MIGRATIONS = ActionSpec(
    name="run-migrations",
    summary="Upgrade the target database's schema to the Alembic head; reports from/to.",
    params=NoParams,
    risk=Risk.medium,
    idempotent=True,
    target="target-db",
    plan=plan_migrations,
    execute=execute_migrations,
    revert=revert_migrations,
    undo_summary="downgrade to the revision before the upgrade",
    backends=("local", "docker"),
)
