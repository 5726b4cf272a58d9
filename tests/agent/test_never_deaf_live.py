"""Never deaf, on a live lab with its own agent: an outage handed to a human does not blind
the agent to another outage, and nothing a stopped lab left firing does either.

1. An escalated outage still firing (about the fallback pricing service: an incident the
   agent escalated earlier, written into the lab's ops-db as the agent would have left it,
   its alert refreshed) and then a db-lock through the chaos server: the lock gets its own
   incident and is fixed.
2. An api-crash escalated by the agent's loop budget (the same restart twice within its
   window), the lab stopped and started, then a new api-crash: fixed by the agent. Before,
   the escalated incident's firing record survived the restart and swallowed the new crash.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.model import Alert, IncidentState
from agent.store import IncidentStore
from gameday.chaos_faults import Injected, inject, revert
from gameday.errors import GamedayError
from gameday.incidents import agent_actions, incident, incidents_since, wait_closed
from gameday.polling import until
from gameday.steady import wait_steady
from lab.secrets import read_secret
from lab.services import OPS_DB, OPS_PASSWORD, OPS_ROLE
from tests.support.eval_lab import EvalLab, running_eval_lab

pytestmark = pytest.mark.slow
BUDGET_WINDOW_S = 90.0
ENV = {
    # one restart of the target per 90 s: a second crash right after the first escalates
    "AGENT_SAME_ACTION_MAX": "1",
    "AGENT_SAME_ACTION_WINDOW_S": str(int(BUDGET_WINDOW_S)),
    "AGENT_HANDOVER_S": "600",
}


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-deaf-", env=ENV) as running:
        yield running


def _escalated_elsewhere(lab: EvalLab) -> tuple[IncidentStore, str, Alert]:
    """An escalated incident about upstream-fallback, its alert still firing, in the lab's
    own ops-db (observability has nothing of it: the agent would have cleared it itself)."""
    password = read_secret(lab.paths.secret(OPS_PASSWORD))
    url = (
        f"postgresql+psycopg2://{OPS_ROLE}:{password}@127.0.0.1:{lab.settings.ops_db_port}/{OPS_DB}"
    )
    store = IncidentStore(url, handover_s=600)
    alert = Alert(
        fingerprint="fallback-quota-test",
        alertname="FallbackQuotaExhausted",
        service="upstream-fallback",
        severity="critical",
        starts_at=datetime.now(UTC),
        annotations={"summary": "the fallback pricing quota is exhausted"},
    )
    (incident_id,) = store.ingest([alert], group_key=None, source="alertmanager").opened
    for to in (IncidentState.diagnosing, IncidentState.escalated):
        store.transition(incident_id, to, step="test", inputs={}, outputs={"by": "the test"})
    return store, incident_id, alert


def _escalated_since(lab: EvalLab, since: float) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [i for i in incidents_since(lab, since) if i["state"] == "escalated"]
        return bool(found)

    assert until(check, 120.0, every_s=1.0), incidents_since(lab, since)
    return found[0]


def _fixed(lab: EvalLab, since: float, action: str) -> list[dict[str, Any]]:
    closed = wait_closed(lab, since, 150.0)
    assert any(i["state"] == "resolved" for i in closed), [
        (i["id"], i["state"], i.get("fault"), (i.get("decisions") or [{}])[-1].get("reason"))
        for i in closed
    ]
    assert action in [a.action for a in agent_actions(lab, since)]
    return closed


def _revert(lab: EvalLab, injected: Injected) -> None:
    try:
        revert(lab, injected)
    except GamedayError:
        pass  # already reverted (the chaos server reconciles its ledger on start)


def test_an_unrelated_fault_during_an_escalated_outage_is_fixed(lab: EvalLab) -> None:
    wait_steady(lab, 180.0, "before the escalated outage")
    store, escalated, alert = _escalated_elsewhere(lab)
    try:
        locked_at = time.time()
        injected = inject(lab, "db-lock", ttl_s=600)
        try:
            store.ingest([alert], group_key=None, source="alertmanager")  # still firing
            closed = _fixed(lab, locked_at, "terminate-db-blockers")
        finally:
            _revert(lab, injected)
        assert escalated not in {i["id"] for i in closed}
        assert incident(lab, escalated)["alertnames"] == ["FallbackQuotaExhausted"]
    finally:
        resolved = alert.model_copy(update={"status": "resolved", "ends_at": datetime.now(UTC)})
        store.ingest([resolved], group_key=None, source="alertmanager")
        store.dispose()


def test_after_a_lab_restart_an_escalated_crash_does_not_swallow_a_new_one(
    lab: EvalLab,
) -> None:
    wait_steady(lab, 180.0, "before the first crash")
    first_at = time.time()
    first = inject(lab, "api-crash", ttl_s=600)
    try:
        _fixed(lab, first_at, "restart-api")
    finally:
        _revert(lab, first)
    second_at = time.time()
    second = inject(lab, "api-crash", ttl_s=600)
    escalated = _escalated_since(lab, second_at)
    reason = (escalated.get("decisions") or [{}])[-1].get("reason", "")
    assert "loop: restart-api" in str(incident(lab, escalated["id"]).get("decisions")), reason
    lab.lab.down()  # the crash still firing: its alert recorded firing in ops-db
    lab.lab.start(timeout=240.0)
    _revert(lab, second)
    wait_steady(lab, 180.0, "after the restart")
    wait = first_at + BUDGET_WINDOW_S + 5.0 - time.time()
    if wait > 0:  # the first restart out of the loop budget's window
        time.sleep(wait)
    third_at = time.time()
    third = inject(lab, "api-crash", ttl_s=600)
    try:
        closed = _fixed(lab, third_at, "restart-api")
    finally:
        _revert(lab, third)
    assert escalated["id"] not in {i["id"] for i in closed}
    late = [
        e for e in incident(lab, escalated["id"]).get("events", []) if e["step"] == "alert_late"
    ]
    assert late == [], late
