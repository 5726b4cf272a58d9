"""Acting: one plan step through the action server, with an Idempotency-Key per step.

The key is `{incident_id}:{attempt}:{step_no}:{action}`: a retry of the same step (after a
crash of the agent, or a 429) replays the first result instead of acting twice. A target
busy with another run (409 `target_busy`: a scheduled snapshot, another action) is waited
for and the *same* step tried again, for up to BUSY_BUDGET_S: the fix is still the right
one, the target was only taken.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel

from action_server.client import ActionClientError
from agent.model import Plan, PlanStep

if TYPE_CHECKING:
    from agent.store import IncidentStore

log = logging.getLogger("agent.act")

MAX_RETRY_AFTER_S = 30.0
BUSY_BUDGET_S = 60.0  # how long a step waits, in all, for a busy target
BUSY_WAIT_S = 5.0  # between tries, when the refusal names no Retry-After
OK_STATUSES = ("succeeded", "dry_run")


class ActingClient(Protocol):
    def act(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
        wait: bool = False,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Any: ...


class StepResult(BaseModel):
    """What one step did: the run's status, or the refusal/error that stopped it."""

    action: str
    params: dict[str, Any]
    idempotency_key: str
    dry_run: bool
    status: str  # the run's status (succeeded, failed, rolled_back, dry_run) or "error"
    summary: str = ""
    run_id: str | None = None
    error: str | None = None
    code: str | None = None  # the action server's stable error code
    http_status: int | None = None
    retried: bool = False
    busy_waits: int = 0  # times the target was busy and the step was tried again

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


def idempotency_key(*, incident_id: str, attempt: int, step_no: int, action: str) -> str:
    """The key of one step of one attempt of one incident."""
    return f"{incident_id}:{attempt}:{step_no}:{action}"


def run_step(
    client: ActingClient,
    *,
    incident_id: str,
    attempt: int,
    step_no: int,
    step: PlanStep,
    dry_run: bool,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> StepResult:
    """Run one step (waiting for a busy target); a 429 is retried once after Retry-After,
    a `target_busy` refusal after its Retry-After for up to BUSY_BUDGET_S in all."""
    key = idempotency_key(
        incident_id=incident_id, attempt=attempt, step_no=step_no, action=step.action
    )
    base: dict[str, Any] = {
        "action": step.action,
        "params": step.params,
        "idempotency_key": key,
        "dry_run": dry_run,
    }
    retried = False
    busy = _Patience(clock)
    while True:
        try:
            run = client.act(
                step.action,
                step.params,
                dry_run=dry_run,
                wait=True,
                idempotency_key=key,
                correlation_id=incident_id,
            )
        except ActionClientError as exc:
            if exc.status == 429 and not retried:
                retried = True
                delay = min(exc.retry_after or 1.0, MAX_RETRY_AFTER_S)
                log.info("%s rate limited; retrying once in %.1f s", step.action, delay)
                sleep(delay)
                continue
            wait = busy.delay(exc) if exc.code == "target_busy" else None
            if wait is not None:
                log.info("%s: %s; trying the same step again in %.1f s", step.action, exc, wait)
                sleep(wait)
                continue
            return StepResult(
                **base,
                status="error",
                error=f"{exc.status} {exc.code}: {exc.detail}{busy.note()}",
                code=exc.code,
                http_status=exc.status,
                retried=retried,
                busy_waits=busy.waits,
            )
        except httpx.HTTPError as exc:
            return StepResult(
                **base,
                status="error",
                error=f"action server unreachable: {type(exc).__name__}",
                code="unreachable",
                retried=retried,
                busy_waits=busy.waits,
            )
        return StepResult(
            **base,
            status=run.status,
            summary=run.summary,
            run_id=str(run.id),
            error=run.error,
            retried=retried,
            busy_waits=busy.waits,
        )


@dataclass
class _Patience:
    """How long one step waits for a busy target: each refusal's Retry-After, and
    BUSY_BUDGET_S in all from the first refusal."""

    clock: Callable[[], float]
    deadline: float | None = None
    waits: int = 0

    def delay(self, refusal: ActionClientError) -> float | None:
        """Seconds to wait before the same step again, or None: the budget is spent."""
        now = self.clock()
        if self.deadline is None:
            self.deadline = now + BUSY_BUDGET_S
        left = self.deadline - now
        if left <= 0:
            return None
        self.waits += 1
        return min(refusal.retry_after or BUSY_WAIT_S, left)

    def note(self) -> str:
        """What was waited, for the step's error ("" when nothing was)."""
        return f" (tried {self.waits} more time(s) in {BUSY_BUDGET_S:g} s)" if self.waits else ""


class PlanRun(BaseModel):
    """How a plan's steps went: all done, or the step that did not succeed and why."""

    ok: bool
    dry_run: bool = False
    failed: str | None = None  # the action that did not succeed
    why: str = ""
    acted_at: datetime | None = None  # the first real (not dry-run) attempt


def run_plan(
    *,
    store: "IncidentStore",
    client: ActingClient,
    incident_id: str,
    plan_index: int,
    plan: Plan,
    decisions: list[dict[str, Any]],
    targets: dict[str, str],
    dry_run: bool,
) -> PlanRun:
    """Run a plan's steps in order (escalate steps excepted: escalation closes an incident),
    each recorded before and after; a step already finished before a restart is skipped."""
    done = {a.idempotency_key: a for a in store.actions(incident_id)}
    attempt, outcome = plan_index + 1, PlanRun(ok=True)
    for step_no, (step, decision) in enumerate(zip(plan.steps, decisions, strict=False), 1):
        if step.action == "escalate":
            continue
        dry = bool(decision.get("dry_run")) or dry_run
        outcome.dry_run = outcome.dry_run or dry
        key = idempotency_key(
            incident_id=incident_id, attempt=attempt, step_no=step_no, action=step.action
        )
        previous = done.get(key)
        if previous is not None and previous.status not in ("running", "interrupted"):
            if previous.status not in OK_STATUSES:
                return outcome.model_copy(
                    update={"ok": False, "failed": step.action, "why": previous.status}
                )
            continue
        record: dict[str, Any] = {
            "incident_id": incident_id,
            "step_no": step_no,
            "attempt": attempt,
            "action": step.action,
            "target": targets.get(step.action, step.action),
            "idempotency_key": key,
            "params": step.params,
            "dry_run": dry,
        }
        store.record_action(**record, status="running")
        started = datetime.now(UTC)
        result = run_step(
            client,
            incident_id=incident_id,
            attempt=attempt,
            step_no=step_no,
            step=step,
            dry_run=dry,
        )
        _record(store, record, result)
        if not dry and outcome.acted_at is None and result.status != "error":
            outcome.acted_at = started
        if not result.ok:
            return outcome.model_copy(
                update={"ok": False, "failed": step.action, "why": result.error or result.status}
            )
    return outcome


def _record(store: "IncidentStore", record: dict[str, Any], result: StepResult) -> None:
    status = result.status
    if status == "error" and result.http_status in (403, 404, 409, 422):
        status = "refused"  # the server changed nothing
    store.record_action(
        **record,
        status=status,
        run_id=result.run_id,
        finished_at=datetime.now(UTC),
        detail={
            "summary": result.summary,
            "error": result.error,
            "code": result.code,
            "http_status": result.http_status,
            "retried": result.retried,
            "busy_waits": result.busy_waits,
        },
    )
    store.add_event(
        str(record["incident_id"]),
        f"act:{result.action}",
        {
            "action": result.action,
            "params": result.params,
            "idempotency_key": result.idempotency_key,
            "dry_run": result.dry_run,
        },
        {
            "status": result.status,
            "summary": result.summary,
            "run_id": result.run_id,
            "error": result.error,
        },
    )
