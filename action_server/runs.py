"""Running an action: preconditions, act, verify, undo on failure; every run recorded."""

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update

from action_server.catalogue import ActionSpec, NoParams
from action_server.context import (
    ActionContext,
    ActionFailed,
    Outcome,
    Plan,
    PreconditionFailed,
    Unsupported,
)
from action_server.errors import NotFound, NotSupported, NotUndoable, PreconditionRefused
from action_server.idempotency import DONE, IN_PROGRESS
from action_server.locks import label_holder
from action_server.models import ActionRun, IdempotencyRecord
from action_server.store import Store
from lab.redaction import redact

log = logging.getLogger("action_server.runs")

SUCCEEDED, FAILED, ROLLED_BACK, DRY_RUN = "succeeded", "failed", "rolled_back", "dry_run"
RUNNING, INTERRUPTED, REFUSED = "running", "interrupted", "refused"
SKIPPED, CANCELLED = "skipped", "cancelled"  # background work that gave way


class Caller(BaseModel):
    """Who asked, for the run record."""

    key_id: str | None
    correlation_id: str


def execute(
    *,
    spec: ActionSpec,
    params: BaseModel,
    dry_run: bool,
    ctx: ActionContext,
    store: Store,
    caller: Caller,
    run_id: uuid.UUID | None = None,
) -> ActionRun:
    """Plan (the whole of a dry run), then act and verify; revert when verification fails.
    `run_id` is the run's id when the caller needs it before the run is written."""
    writer = _RunWriter(
        store=store,
        action=spec.name,
        params=params,
        caller=caller,
        dry_run=dry_run,
        run_id=run_id or uuid.uuid4(),
    )
    if ctx.backend not in spec.backends:
        raise NotSupported(
            f"{spec.name} acts on the lab's local files and clusters; the {ctx.backend} "
            f"backend supports {', '.join(sorted(n for n in spec.backends))} only"
        )
    try:
        plan = spec.plan(ctx, params)
    except PreconditionFailed as exc:
        raise _refusal(spec.name, exc) from None
    if dry_run:
        return writer.write(status=DRY_RUN, plan=plan)
    # Written before acting: a crash mid-action leaves a `running` row for reconcile().
    writer.write(status=RUNNING, plan=plan)
    try:
        outcome = spec.execute(ctx, params)
        status, error = SUCCEEDED, None
    except PreconditionFailed as exc:
        refusal = _refusal(spec.name, exc)
        writer.write(status=REFUSED, plan=plan, error=str(refusal))
        raise refusal from None
    except ActionFailed as exc:
        status, error, outcome = FAILED, str(exc), Outcome(summary=f"{spec.name} failed")
        if spec.revert is not None and exc.undo is not None:
            outcome = _try_revert(spec, ctx, exc.undo, outcome)
            status = ROLLED_BACK if outcome.verified else FAILED
    except Exception as exc:  # it may have acted: record the failure, never retry blindly
        log.exception("%s failed unexpectedly", spec.name)
        status, error = FAILED, f"unexpected {type(exc).__name__}: {exc}"
        outcome = Outcome(summary=f"{spec.name} failed unexpectedly; check the lab state")
    return writer.write(status=status, plan=plan, outcome=outcome, error=error)


def _refusal(name: str, exc: PreconditionFailed) -> NotSupported | PreconditionRefused:
    """The HTTP refusal for an action that must not (or cannot) run."""
    if isinstance(exc, Unsupported):
        return NotSupported(f"{name}: {exc}")
    return PreconditionRefused(f"{name}: {exc}")


def _try_revert(
    spec: ActionSpec, ctx: ActionContext, undo: dict[str, Any], failed: Outcome
) -> Outcome:
    assert spec.revert is not None
    try:
        reverted = spec.revert(ctx, undo)
    except (ActionFailed, PreconditionFailed) as exc:
        log.error("undo of %s failed: %s", spec.name, exc)
        return Outcome(summary=f"{failed.summary}; undo failed: {exc}", verified=False)
    return Outcome(
        summary=f"{failed.summary}; undone: {reverted.summary}",
        details={"undo": reverted.details},
        verified=reverted.verified,
    )


def undo(
    *,
    run_id: uuid.UUID,
    catalogue: dict[str, ActionSpec],
    ctx: ActionContext,
    store: Store,
    caller: Caller,
    undo_run_id: uuid.UUID | None = None,
) -> ActionRun:
    """Revert a recorded run with its own undo data; the undo is a run of its own (with
    `undo_run_id` as its id when given)."""
    original = get(store=store, run_id=run_id)
    spec = catalogue.get(original.action)
    if spec is None or spec.revert is None:
        raise NotUndoable(f"{original.action} has no undo")
    if original.dry_run or original.undo is None:
        raise NotUndoable("this run changed nothing that can be undone")
    if original.undone_by is not None:
        raise NotUndoable(f"already undone by run {original.undone_by}")
    later = _later_change(store, original, catalogue)
    if later is not None:
        raise NotUndoable(
            f"run {later.id} ({later.action}) changed {spec.target} since; undoing this one "
            "would silently discard that change: undo the later run first"
        )
    writer = _RunWriter(
        store=store,
        action=f"undo:{spec.name}",
        params=NoParams(),
        caller=caller,
        dry_run=False,
        undo_of=run_id,
        run_id=undo_run_id or uuid.uuid4(),
    )
    plan = Plan(summary=f"undo run {run_id}")
    writer.write(status=RUNNING, plan=plan)
    try:
        outcome, status, error = spec.revert(ctx, original.undo), SUCCEEDED, None
    except PreconditionFailed as exc:
        refusal = _refusal(f"undo {spec.name}", exc)
        writer.write(status=REFUSED, plan=plan, error=str(refusal))
        raise refusal from None
    except ActionFailed as exc:
        outcome, status, error = Outcome(summary=f"undo of {spec.name} failed"), FAILED, str(exc)
        if exc.undo is not None:  # the undo left things half-changed: put them back
            outcome = _try_revert(spec, ctx, exc.undo, outcome)
    run = writer.write(status=status, plan=plan, outcome=outcome, error=error)
    if status == SUCCEEDED:
        with store.session() as session:
            row = session.get(ActionRun, run_id)
            assert row is not None
            row.undone_by = run.id
            session.commit()
    return run


def _later_change(
    store: Store, original: ActionRun, catalogue: dict[str, ActionSpec]
) -> ActionRun | None:
    """A later successful run that changed what undoing `original` would overwrite."""
    target = catalogue[original.action].target
    related = {n: s for n, s in catalogue.items() if target in (s.target, *s.also_locks)}
    names = [*related, *(f"undo:{n}" for n in related)]
    with store.session() as session:
        later = session.scalars(
            select(ActionRun)
            .where(
                ActionRun.action.in_(names),
                ActionRun.dry_run.is_(False),
                ActionRun.status == SUCCEEDED,
                ActionRun.started_at > original.started_at,
                ActionRun.undo_of.is_distinct_from(original.id),
            )
            .order_by(ActionRun.started_at.desc())
        ).all()
    later_ids = {run.id for run in later}
    for run in later:
        spec = related[run.action.removeprefix("undo:")]
        if run.undone_by is not None or run.undo_of in later_ids:
            continue  # a later change that was itself undone: nothing is left of it
        changed = run.undo is not None or spec.revert is None or run.action.startswith("undo:")
        if spec.durable and changed:
            return run
    return None


def reconcile(*, store: Store) -> int:
    """At start-up: runs left `running` by a crash become `interrupted`; so do the
    Idempotency-Key claims they held (a replay answers 409 instead of acting again)."""
    with store.session() as session:
        result = session.execute(
            update(ActionRun)
            .where(ActionRun.status == RUNNING)
            .values(
                status=INTERRUPTED,
                error="the action server stopped during this run",
                finished_at=datetime.now(UTC),
            )
        )
        count = getattr(result, "rowcount", 0)
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.state == IN_PROGRESS)
            .values(
                state=DONE,
                status_code=409,
                body={
                    "code": "interrupted",
                    "detail": "the action server stopped while this request was acting; check "
                    "GET /runs and the lab, then retry with a new Idempotency-Key",
                },
            )
        )
        session.commit()
    return int(count or 0)


def background_writer(*, store: Store, action: str) -> "_RunWriter":
    """The run record of one piece of background work (no key; a correlation id of its own)."""
    run_id = uuid.uuid4()
    caller = Caller(key_id=None, correlation_id=f"background-{run_id.hex[:16]}")
    return _RunWriter(
        store=store, action=action, params=NoParams(), caller=caller, dry_run=False, run_id=run_id
    )


def get(*, store: Store, run_id: uuid.UUID) -> ActionRun:
    """A recorded run, or NotFound."""
    with store.session() as session:
        row = session.get(ActionRun, run_id)
    if row is None:
        raise NotFound(f"no run {run_id}")
    return row


@dataclass
class _RunWriter:
    """One run's row: written `running` before acting, completed in place afterwards."""

    store: Store
    action: str
    params: BaseModel
    caller: Caller
    dry_run: bool
    undo_of: uuid.UUID | None = None
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)

    def write(
        self, *, status: str, plan: Plan, outcome: Outcome | None = None, error: str | None = None
    ) -> ActionRun:
        """Insert or update the run's row."""
        details: dict[str, Any] = {"plan": plan.details}
        if outcome is not None:
            details["result"] = outcome.details
        run = ActionRun(
            id=self.run_id,
            action=self.action,
            params=redact(self.params.model_dump(mode="json")),
            dry_run=self.dry_run,
            status=status,
            summary=outcome.summary if outcome is not None else plan.summary,
            changes=plan.changes,
            details=redact(details),
            undo=outcome.undo if outcome is not None and status == SUCCEEDED else None,
            undo_of=self.undo_of,
            error=redact(error),
            key_id=self.caller.key_id,
            correlation_id=self.caller.correlation_id,
            started_at=self.started,
            finished_at=datetime.now(UTC),
            duration_ms=round((time.perf_counter() - self.clock) * 1000, 3),
        )
        with self.store.session() as session:
            session.merge(run)
            session.commit()
        if status == RUNNING:
            label_holder(self.run_id)  # a refusal of another request can then name this run
        return run
