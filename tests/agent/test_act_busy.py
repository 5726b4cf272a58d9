"""A target busy with another run (a scheduled snapshot, another action) is waited for: the
agent tries the same step again instead of failing the plan (issue 12, item 0)."""

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from action_server.client import ActionClientError
from action_server.schemas import RunOut
from agent.act import BUSY_BUDGET_S, BUSY_WAIT_S, run_plan, run_step
from agent.model import Hypothesis, Plan, PlanStep

BUSY_DETAIL = (
    "target-db is held by run 3f6f (scheduled:snapshot-db) for 12 s (since 10:00:00 UTC); "
    "retry in 2 s or pass wait=true"
)


def busy(retry_after: float | None = 2.0) -> ActionClientError:
    return ActionClientError(409, "target_busy", BUSY_DETAIL, retry_after)


def succeeded(action: str) -> RunOut:
    now = datetime.now(UTC)
    return RunOut(
        id=uuid.uuid4(),
        action=action,
        params={},
        dry_run=False,
        status="succeeded",
        summary="terminated 1 session(s) on shop",
        changes=[],
        details={},
        undo_available=False,
        undo_of=None,
        undone_by=None,
        error=None,
        key_id="k",
        correlation_id="inc-1",
        started_at=now,
        finished_at=now,
        duration_ms=1.0,
    )


class FakeClient:
    """Answers each call with the next of `answers` (an error is raised), recording calls."""

    def __init__(self, answers: list[ActionClientError | str]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def act(self, name: str, params: dict[str, Any] | None = None, **options: Any) -> RunOut:
        self.calls.append({"name": name, "params": params, **options})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, ActionClientError):
            raise answer
        return succeeded(name)


class FakeTime:
    """A clock that only moves when the agent sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


STEP = PlanStep(action="terminate-db-blockers", risk="medium")


def step(client: FakeClient, clock: FakeTime) -> Any:
    return run_step(
        client,
        incident_id="inc-1",
        attempt=1,
        step_no=1,
        step=STEP,
        dry_run=False,
        sleep=clock.sleep,
        clock=clock.clock,
    )


def test_a_busy_target_is_waited_for_and_the_same_step_tried_again() -> None:
    client, clock = FakeClient([busy(), busy(), "ok"]), FakeTime()
    result = step(client, clock)
    assert result.ok and result.status == "succeeded" and result.busy_waits == 2
    assert clock.sleeps == [2.0, 2.0]  # each refusal's Retry-After
    assert [c["name"] for c in client.calls] == ["terminate-db-blockers"] * 3
    assert {c["idempotency_key"] for c in client.calls} == {"inc-1:1:1:terminate-db-blockers"}
    assert all(c["wait"] is True for c in client.calls)


def test_the_wait_is_bounded_and_the_refusal_says_what_held_the_target() -> None:
    client, clock = FakeClient([busy(retry_after=7.0)]), FakeTime()
    result = step(client, clock)
    assert not result.ok and result.code == "target_busy" and result.http_status == 409
    assert sum(clock.sleeps) == BUSY_BUDGET_S
    assert clock.sleeps[:-1] == [7.0] * (len(clock.sleeps) - 1)  # the last one: what is left
    assert len(client.calls) == len(clock.sleeps) + 1
    assert "scheduled:snapshot-db" in (result.error or "")
    assert f"tried {result.busy_waits} more time(s)" in (result.error or "")


def test_a_refusal_without_retry_after_waits_the_default() -> None:
    client, clock = FakeClient([busy(retry_after=None), "ok"]), FakeTime()
    assert step(client, clock).ok
    assert clock.sleeps == [BUSY_WAIT_S]


@pytest.mark.parametrize(
    "code", ["precondition_failed", "not_supported", "idempotency_in_progress"]
)
def test_other_refusals_are_not_tried_again(code: str) -> None:
    client = FakeClient([ActionClientError(409, code, "no", None), "ok"])
    clock = FakeTime()
    result = step(client, clock)
    assert not result.ok and result.code == code
    assert len(client.calls) == 1 and clock.sleeps == []


class FakeStore:
    """What run_plan records, in memory."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.events: list[tuple[str, str]] = []

    def actions(self, incident_id: str) -> list[Any]:
        return []

    def record_action(self, **record: Any) -> None:
        self.records.append(record)

    def add_event(self, incident_id: str, step: str, inputs: Any, outputs: Any) -> None:
        self.events.append((incident_id, step))


def test_a_plan_waits_out_a_busy_target_instead_of_failing() -> None:
    store, client = FakeStore(), FakeClient([busy(retry_after=0.01), "ok"])
    plan = Plan(
        hypothesis=Hypothesis(fault="db-lock", confidence=0.9, summary="a lock on products"),
        steps=[STEP],
    )
    ran = run_plan(
        store=cast(Any, store),
        client=client,
        incident_id="inc-1",
        plan_index=0,
        plan=plan,
        decisions=[{"verdict": "allow"}],
        targets={"terminate-db-blockers": "target-db"},
        dry_run=False,
    )
    assert ran.ok and ran.failed is None
    final = store.records[-1]
    assert final["status"] == "succeeded" and final["detail"]["busy_waits"] == 1
    assert len(client.calls) == 2
