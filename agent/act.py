"""Acting: one plan step through the action server, with an Idempotency-Key per step.

The key is `{incident_id}:{attempt}:{step_no}:{action}`: a retry of the same step (after a
crash of the agent, or a 429) replays the first result instead of acting twice.
"""

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from action_server.client import ActionClientError
from agent.model import PlanStep

log = logging.getLogger("agent.act")

MAX_RETRY_AFTER_S = 30.0
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
) -> StepResult:
    """Run one step (waiting for a busy target); a 429 is retried once after Retry-After."""
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
            return StepResult(
                **base,
                status="error",
                error=f"{exc.status} {exc.code}: {exc.detail}",
                code=exc.code,
                http_status=exc.status,
                retried=retried,
            )
        except httpx.HTTPError as exc:
            return StepResult(
                **base,
                status="error",
                error=f"action server unreachable: {type(exc).__name__}",
                code="unreachable",
                retried=retried,
            )
        return StepResult(
            **base,
            status=run.status,
            summary=run.summary,
            run_id=str(run.id),
            error=run.error,
            retried=retried,
        )
