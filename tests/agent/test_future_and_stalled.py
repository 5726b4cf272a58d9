"""An alert stamped in the future holds nothing back, and a stalled incident is looked at
again (issue 13, finding 1), on the agent's real store in Postgres.

Before: an Alertmanager webhook with `startsAt: 2099-01-01` opened an incident whose settle
waited until 2099 (a real crash joining it was never handled); year 9999 failed the
incident with an OverflowError. Now the alert counts as starting when received, with the
clock skew recorded; and the watchdog queues an open incident nobody works on.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from agent.config import Settings
from agent.model import Alert, IncidentState
from agent.pipeline import IncidentPipeline
from agent.store import IncidentStore
from knowledge.runbook import load_runbooks

S = IncidentState


def _alert(name: str, starts_at: datetime) -> Alert:
    return Alert(fingerprint=f"fp-{name}", alertname=name, service="target", starts_at=starts_at)


def _events(store: IncidentStore, incident_id: str, step: str) -> list[dict[str, Any]]:
    return [e.model_dump() for e in store.events(incident_id) if e.step == step]


@pytest.mark.parametrize("year", [2099, 9999])
def test_an_alert_from_the_future_counts_from_its_receipt(store: IncidentStore, year: int) -> None:
    before = datetime.now(UTC)
    ahead = datetime(year, 1, 1, tzinfo=UTC)
    (incident_id,) = store.ingest([_alert("Future", ahead)], group_key=None, source="t").opened
    incident = store.require(incident_id)
    assert before - timedelta(seconds=1) <= incident.detected_at <= datetime.now(UTC)
    (seen,) = _events(store, incident_id, "alert")
    assert seen["inputs"]["clock_skew_s"] > (ahead - before).total_seconds() - 5
    assert seen["inputs"]["starts_at"].startswith(str(year))  # what was sent, kept
    # a later alert joining it moves the start earlier only by a real, past start
    past = datetime.now(UTC) - timedelta(seconds=30)
    store.ingest([_alert("Past", past)], group_key=None, source="t")
    assert abs((store.require(incident_id).detected_at - past).total_seconds()) < 0.01
    # the same alert sent again is a repeat of its episode, not a new one
    again = store.ingest([_alert("Future", ahead)], group_key=None, source="t")
    assert again.duplicates == 1 and not again.opened


def test_an_alert_on_time_records_no_skew(store: IncidentStore) -> None:
    now = datetime.now(UTC)
    (incident_id,) = store.ingest([_alert("Now", now)], group_key=None, source="t").opened
    (seen,) = _events(store, incident_id, "alert")
    assert "clock_skew_s" not in seen["inputs"]
    assert store.require(incident_id).detected_at == now


class _Knowledge:
    runbooks = load_runbooks()

    def query(self, text: str, k: int = 5, *, mode: str | None = None) -> list[Any]:
        return []


def _pipeline(settings: Settings, store: IncidentStore) -> IncidentPipeline:
    """The real pipeline, its workers not started: what the watchdog queues stays queued."""
    return IncidentPipeline(
        settings.model_copy(update={"stall_s": 30.0}),
        store,
        observability=None,  # type: ignore[arg-type]  # the watchdog reads only the store
        knowledge=_Knowledge(),
        actions=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
    )


def _age(ops_url: str, incident_id: str, seconds: float) -> None:
    engine = create_engine(ops_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE agent_incidents SET updated_at = now() - make_interval(secs => :s),"
                    " opened_at = now() - make_interval(secs => :s) WHERE id = :id"
                ),
                {"s": seconds, "id": incident_id},
            )
    finally:
        engine.dispose()


def test_the_watchdog_looks_again_at_an_incident_nobody_works_on(
    agent_settings: Settings, store: IncidentStore, ops_url: str
) -> None:
    now = datetime.now(UTC)
    opened: dict[str, str] = {}
    for name, state in (
        ("Stalled", S.verifying),
        ("Recent", S.verifying),
        ("Approval", S.awaiting_approval),
    ):
        alert = _alert(name, now).model_copy(update={"service": f"svc-{name}"})
        (opened[name],) = store.ingest([alert], group_key=name, source="t").opened
        path = [S.diagnosing, S.planned] + ([S.acting] if state == S.verifying else [])
        for to in [*path, state]:
            store.transition(opened[name], to, step="test", inputs={}, outputs={})
    _age(ops_url, opened["Stalled"], 120)
    _age(ops_url, opened["Approval"], 120)  # a human's answer is awaited: not stalled
    pipeline = _pipeline(agent_settings, store)
    pipeline._watchdog()
    assert pipeline.holds(opened["Stalled"])
    assert not pipeline.holds(opened["Recent"]) and not pipeline.holds(opened["Approval"])
    (event,) = _events(store, opened["Stalled"], "watchdog")
    assert event["inputs"] == {"state": "verifying", "stall_s": 30.0}
    pipeline._watchdog()  # queued now: not looked at twice
    assert len(_events(store, opened["Stalled"], "watchdog")) == 1
