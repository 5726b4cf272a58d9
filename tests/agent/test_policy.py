"""The policy engine on a real store (ops-db on the session's Postgres) and a live lab's
action server (catalogue targets and dry runs through the agent's own `act` key)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from action_server.client import ActionClient
from agent.config import Settings
from agent.model import Alert, Hypothesis, IncidentState, Plan, PlanStep, Verdict
from agent.policy import PolicyContext, PolicyEngine, overall
from agent.store import IncidentStore
from breakfix.background import BackgroundLab
from tests.support.agent_records import record_run
from tests.support.background_lab import lab_fixture

pytestmark = pytest.mark.slow
S = IncidentState


lab = lab_fixture("breakfix-policy-")  # observability off: only the action server is asked


@pytest.fixture(scope="module")
def actions(lab: BackgroundLab) -> Iterator[ActionClient]:
    """The action server with a fresh `act` key, as the agent holds."""
    key = lab.cli("keys", "create", "--scope", "act", "--name", "policy").stdout
    client = ActionClient(
        f"http://127.0.0.1:{lab.port('ACTION')}", key.strip().splitlines()[-1], timeout=60
    )
    yield client
    client.close()


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        ops_db_url="postgresql://unused/unused",
        intake_token_file=tmp_path / "token",
        action_key_file=tmp_path / "key",
        **overrides,
    )


def plan(*steps: PlanStep, confidence: float = 0.9, fault: str = "api-crash") -> Plan:
    return Plan(
        hypothesis=Hypothesis(fault=fault, confidence=confidence, summary="test hypothesis"),
        steps=list(steps),
    )


RESTART = PlanStep(action="restart-api")


def engine(store: IncidentStore, actions: ActionClient, tmp_path: Path, **kw: Any) -> PolicyEngine:
    return PolicyEngine(settings(tmp_path, **kw), store=store, actions=actions)


def open_incident(store: IncidentStore, fp: str) -> str:
    return store.ingest(
        [Alert(fingerprint=fp, alertname="ProbeFailing", service="target")],
        group_key=None,
        source="alertmanager",
    ).opened[0]


def test_refuses_non_catalogue_actions_and_params_the_server_rejects(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    judged = engine(store, actions, tmp_path).judge(
        plan(PlanStep(action="rm-rf"), PlanStep(action="restart-api", params={"force": True})),
        ctx=PolicyContext(incident_id="inc-x"),
    )
    assert [d.verdict for d in judged] == [Verdict.refuse, Verdict.refuse]
    assert "not a catalogue action" in judged[0].reason
    assert "parameters rejected" in judged[1].reason and "validation" in judged[1].reason
    assert overall(judged) == Verdict.refuse


def test_allows_a_valid_low_risk_step_and_escalate_always(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    policy = engine(store, actions, tmp_path)
    ok = policy.judge(plan(RESTART), ctx=PolicyContext(incident_id="inc-x"))
    assert [d.verdict for d in ok] == [Verdict.allow] and not ok[0].dry_run
    low = policy.judge(
        plan(RESTART, PlanStep(action="escalate"), confidence=0.2),
        ctx=PolicyContext(incident_id="inc-x"),
    )
    assert [d.verdict for d in low] == [Verdict.escalate, Verdict.allow]
    assert low[0].reason.startswith("low confidence: 0.20 < min_confidence 0.50")


def test_cap_counts_actions_taken_and_planned(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    policy = engine(store, actions, tmp_path, max_actions_per_incident=3)
    judged = policy.judge(
        plan(RESTART, PlanStep(action="clear-cache")),
        ctx=PolicyContext(incident_id="inc-x", actions_taken=2),
    )
    assert [d.verdict for d in judged] == [Verdict.allow, Verdict.escalate]
    assert judged[1].reason.startswith("cap: 3 actions")


def _ran(store: IncidentStore, incident_id: str, n: int, action: str, status: str) -> None:
    # on the default target "target": restart-api's and clear-cache's (GET /actions)
    record_run(store, incident_id, n, status, action=action, key=f"{incident_id}:{n}:1:{action}")


def test_a_different_fix_on_a_target_just_acted_on_is_allowed(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    """The old per-target cooldown escalated any fix on a target another incident had just
    acted on; the budget counts only the same action on the same target."""
    first = open_incident(store, "fp-budget-1")
    _ran(store, first, 1, "clear-cache", "succeeded")
    for state in (S.diagnosing, S.resolved):
        store.transition(first, state, step="t", inputs={}, outputs={})
    second = open_incident(store, "fp-budget-2")
    policy = engine(store, actions, tmp_path, same_action_max=1)
    judged = policy.judge(plan(RESTART), ctx=PolicyContext(incident_id=second))
    assert judged[0].verdict == Verdict.allow, judged[0].reason


def test_the_same_action_on_the_same_target_escalates_past_its_budget(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    earlier = []
    for n in (1, 2):
        earlier.append(open_incident(store, f"fp-loop-{n}"))
        _ran(store, earlier[-1], n, "restart-api", "succeeded")
        for state in (S.diagnosing, S.resolved):
            store.transition(earlier[-1], state, step="t", inputs={}, outputs={})
    _ran(store, earlier[0], 9, "restart-api", "refused")  # a refusal never touched the target
    policy = engine(store, actions, tmp_path, same_action_max=2, same_action_window_s=600)
    over = policy.judge(plan(RESTART), ctx=PolicyContext(incident_id="inc-loop"))
    assert over[0].verdict == Verdict.escalate
    reason = over[0].reason
    assert reason.startswith("loop: restart-api ran on target 2 times"), reason
    assert all(i in reason for i in earlier)  # the history goes with the escalation
    # one more allowed run, no limit, or a window the runs are outside of: allowed
    for kw in ({"same_action_max": 3}, {"same_action_max": 0}, {"same_action_window_s": 0}):
        free = engine(store, actions, tmp_path, **kw).judge(
            plan(RESTART), ctx=PolicyContext(incident_id="inc-loop")
        )
        assert free[0].verdict == Verdict.allow, (kw, free[0].reason)


def test_high_risk_needs_approval_unless_configured_otherwise(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    regen = plan(PlanStep(action="regenerate-env", risk="high"), fault="db-auth-failure")
    ctx = PolicyContext(incident_id="inc-x")
    asked = engine(store, actions, tmp_path).judge(regen, ctx=ctx)
    assert asked[0].verdict == Verdict.needs_approval and overall(asked) == Verdict.needs_approval
    free = engine(store, actions, tmp_path, approval_required=[]).judge(regen, ctx=ctx)
    assert free[0].verdict == Verdict.allow


def test_dry_run_mode_allows_only_dry_runs(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    judged = engine(store, actions, tmp_path, dry_run=True).judge(
        plan(RESTART, PlanStep(action="regenerate-env", risk="high")),
        ctx=PolicyContext(incident_id="inc-x"),
    )
    assert [(d.verdict, d.dry_run) for d in judged] == [(Verdict.allow, True)] * 2
    assert "dry-run mode" in judged[0].reason


def test_a_fix_that_did_not_hold_twice_escalates(
    store: IncidentStore, actions: ActionClient, tmp_path: Path
) -> None:
    for n in (1, 2):
        inc = open_incident(store, f"fp-held-{n}")
        store.update(inc, fault="api-crash", acted_at=datetime.now(UTC))
        for state in (S.diagnosing, S.resolved):
            store.transition(inc, state, step="t", inputs={}, outputs={})
    policy = engine(store, actions, tmp_path)
    again = policy.judge(plan(RESTART), ctx=PolicyContext(incident_id="inc-new"))
    assert again[0].verdict == Verdict.escalate
    assert again[0].reason.startswith("fix did not hold: api-crash was resolved by the agent 2")
    # another fault is not affected; two failed verifications in one incident are
    other = policy.judge(plan(RESTART, fault="api-hang"), ctx=PolicyContext(incident_id="x"))
    assert other[0].verdict == Verdict.allow
    failed = policy.judge(
        plan(RESTART, fault="api-hang"), ctx=PolicyContext(incident_id="x", verify_failures=2)
    )
    assert failed[0].verdict == Verdict.escalate and "verification failed 2" in failed[0].reason
    # outside the recurrence window the old fixes no longer count
    short = engine(store, actions, tmp_path, recurrence_window_s=0)
    assert short.judge(plan(RESTART), ctx=PolicyContext(incident_id="y"))[0].verdict == (
        Verdict.allow
    )
