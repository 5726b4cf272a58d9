"""The incident store on real Postgres: states, events, dedup and correlation of alerts."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from agent.api.errors import IllegalTransition, IncidentNotFound
from agent.model import Alert, Diagnosis, Hypothesis, IncidentState
from agent.store import IncidentStore
from agent.store.models import LEGAL_TRANSITIONS, is_legal
from tests.support.agent_records import record_run

S = IncidentState
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # in the past: a start ahead of receipt is clamped


def alert(fp: str = "aaaa", *, at: datetime = T0, status: str = "firing", **kw: object) -> Alert:
    return Alert(
        fingerprint=fp,
        alertname=str(kw.pop("alertname", f"Alert{fp}")),
        status=status,
        service=str(kw.pop("service", "target")),
        severity="critical",
        starts_at=at,
        ends_at=kw.pop("ends_at", None),
        annotations={"summary": "target is down"},
    )


def ingest(store: IncidentStore, *alerts: Alert, group_key: str | None = None):  # type: ignore[no-untyped-def]
    return store.ingest(list(alerts), group_key=group_key, source="alertmanager")


def walk(store: IncidentStore, incident_id: str, *states: IncidentState) -> None:
    for to in states:
        store.transition(incident_id, to, step=f"to-{to}", inputs={}, outputs={})


def test_legal_transitions_match_the_state_machine() -> None:
    assert is_legal(S.detected, S.diagnosing)
    assert not is_legal(S.detected, S.acting)
    assert is_legal(S.verifying, S.diagnosing)  # next hypothesis
    assert is_legal(S.awaiting_approval, S.failed)
    for closed in (S.resolved, S.escalated, S.failed):
        assert LEGAL_TRANSITIONS[closed] == frozenset()


def test_a_new_alert_opens_an_incident_with_its_detection_time(store: IncidentStore) -> None:
    result = ingest(store, alert())
    assert len(result.opened) == 1 and result.duplicates == 0
    incident = store.require(result.opened[0])
    assert incident.state is S.detected
    assert incident.detected_at == T0
    assert incident.fingerprints == ["aaaa"] and incident.alert_count == 1
    assert incident.title == "target is down"  # names its service already
    assert [e.step for e in store.events(incident.id)] == ["opened", "alert"]


def test_transitions_write_their_event_in_the_same_transaction(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    moved = store.transition(
        incident_id, S.diagnosing, step="perceive", inputs={"window_s": 300}, outputs={"n": 2}
    )
    assert moved.state is S.diagnosing
    last = store.events(incident_id)[-1]
    assert (last.step, last.state_from, last.state_to) == ("perceive", "detected", "diagnosing")
    assert (last.inputs, last.outputs) == ({"window_s": 300}, {"n": 2})

    before = len(store.events(incident_id))
    with pytest.raises(IllegalTransition):
        store.transition(incident_id, S.awaiting_approval, step="x", inputs={}, outputs={})
    with pytest.raises(IllegalTransition):
        store.transition(incident_id, S.acting, step="x", inputs={}, outputs={})
    assert len(store.events(incident_id)) == before  # a refused move leaves no event
    assert store.require(incident_id).state is S.diagnosing
    with pytest.raises(IncidentNotFound):
        store.transition("inc-nope", S.diagnosing, step="x", inputs={}, outputs={})


def test_a_failing_event_write_rolls_the_state_back(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    # the event insert fails after the state update: neither is kept
    with pytest.raises(ValueError, match="NUL"):
        store.transition(incident_id, S.diagnosing, step="bad\x00step", inputs={}, outputs={})
    assert store.require(incident_id).state is S.detected


def test_closed_states_are_final_and_carry_closed_at(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    walk(store, incident_id, S.diagnosing, S.planned, S.acting, S.verifying, S.resolved)
    incident = store.require(incident_id)
    assert incident.closed and incident.closed_at is not None
    with pytest.raises(IllegalTransition):
        store.transition(incident_id, S.failed, step="x", inputs={}, outputs={})
    assert store.open_incidents() == []


def test_update_stores_models_as_json_and_times(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    hypothesis = Hypothesis(fault="api-crash", confidence=0.9, summary="the API is gone")
    diagnosed = T0 + timedelta(seconds=12)
    incident = store.update(
        incident_id,
        diagnosis=Diagnosis(hypotheses=[hypothesis]),
        fault="api-crash",
        diagnosed_at=diagnosed,
        mitigated_at=T0 + timedelta(seconds=40),
    )
    assert incident.diagnosis["hypotheses"][0]["fault"] == "api-crash"
    assert incident.ttd_s == 12.0 and incident.ttm_s == 40.0
    with pytest.raises(ValueError, match="not updatable"):
        store.update(incident_id, state="resolved")


def test_a_repeat_is_a_duplicate_counted_on_the_alert(store: IncidentStore) -> None:
    first = ingest(store, alert())
    again = ingest(store, alert(), alert())
    assert again.opened == [] and again.duplicates == 2
    rows = store.alerts(first.opened[0])
    assert len(rows) == 1 and rows[0].received_count == 3


def test_any_firing_alert_joins_the_open_incident(store: IncidentStore) -> None:
    incident_id = ingest(store, alert("aaaa")).opened[0]
    result = ingest(store, alert("bbbb", at=T0 - timedelta(seconds=5), alertname="DbDown"))
    assert result.opened == [] and result.attached == [incident_id]
    incident = store.require(incident_id)
    assert incident.alert_count == 2 and incident.alertnames == ["Alertaaaa", "DbDown"]
    assert incident.detected_at == T0 - timedelta(seconds=5)  # the earliest alert


def test_a_resolved_notification_is_recorded_with_an_event(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    ends = T0 + timedelta(seconds=30)
    result = ingest(store, alert(status="resolved", ends_at=ends))
    assert result.resolved == 1 and result.opened == []
    assert store.firing_alerts(incident_id) == []
    (row,) = store.alerts(incident_id)
    assert row.status == "resolved" and row.resolved_at == ends
    assert store.events(incident_id)[-1].step == "alert_resolved"
    # the same resolution again is a repeat; a late firing copy does not reopen it
    assert ingest(store, alert(status="resolved", ends_at=ends)).duplicates == 1
    assert ingest(store, alert()).duplicates == 1
    assert store.alerts(incident_id)[0].status == "resolved"


def test_late_alert_of_a_closed_incident_joins_it(store: IncidentStore) -> None:
    incident_id = ingest(store, alert("aaaa")).opened[0]
    walk(store, incident_id, S.diagnosing, S.resolved)
    closed_at = store.require(incident_id).closed_at
    assert closed_at is not None
    # same fingerprint, an episode that began before the close: late, no new incident
    late = ingest(store, alert("aaaa", at=closed_at - timedelta(seconds=1)))
    assert late.opened == [] and late.late == 1 and late.attached == [incident_id]
    # a fingerprint the incident never saw is a new outage
    other = ingest(store, alert("cccc", at=closed_at - timedelta(seconds=1)))
    assert len(other.opened) == 1
    # and the same fingerprint after the close is a new outage too
    walk(store, other.opened[0], S.diagnosing, S.resolved)
    again = ingest(store, alert("aaaa", at=datetime.now(UTC) + timedelta(seconds=5)))
    assert len(again.opened) == 1


def test_group_key_is_recorded_and_prefers_its_incident(store: IncidentStore) -> None:
    result = ingest(store, alert("aaaa"), group_key='{}:{alertname="A"}')
    incident = store.require(result.opened[0])
    assert incident.group_key == '{}:{alertname="A"}'
    joined = ingest(store, alert("bbbb"), group_key='{}:{alertname="A"}')
    assert joined.attached == [incident.id]
    assert store.alerts(incident.id)[1].group_key == '{}:{alertname="A"}'


def test_one_payload_with_many_copies_is_one_alert(store: IncidentStore) -> None:
    result = ingest(store, *[alert() for _ in range(10_000)])
    assert len(result.opened) == 1 and result.duplicates == 9_999
    assert store.alerts(result.opened[0])[0].received_count == 10_000


def test_contract_incident_keeps_its_external_id_and_context(store: IncidentStore) -> None:
    contract = {"incident_id": "EXT-1", "observability_context": {"trace_ids": ["ab"]}}
    contract_alert = alert("ext1").model_copy(update={"source": "incident"})
    result = store.ingest([contract_alert], group_key=None, source="incident", contract=contract)
    incident = store.require(result.opened[0])
    assert incident.external_id == "EXT-1" and incident.source == "incident"
    assert store.events(incident.id)[-1].step == "incident_contract"
    assert store.events(incident.id)[-1].inputs["observability_context"]["trace_ids"] == ["ab"]
    # the same contract incident again (another timestamp) is a duplicate
    moved = contract_alert.model_copy(update={"starts_at": T0 + timedelta(seconds=9)})
    again = store.ingest([moved], group_key=None, source="incident", contract=contract)
    assert again.opened == [] and again.duplicates == 1


def test_actions_and_the_loop_budget_source(store: IncidentStore) -> None:
    incident_id = ingest(store, alert()).opened[0]
    assert store.recent_runs("restart-api", "target", 60) == []
    record_run(store, incident_id, 1, "dry_run", dry_run=True)
    assert store.recent_runs("restart-api", "target", 60) == []  # a dry run is not a run
    record_run(store, incident_id, 2, "running", params={"reason": "x"})
    done = record_run(
        store, incident_id, 2, "succeeded", run_id="r1", finished_at=datetime.now(UTC)
    )
    assert done.status == "succeeded" and done.params == {"reason": "x"}
    assert [a.step_no for a in store.actions(incident_id)] == [1, 2]
    (run,) = store.recent_runs("restart-api", "target", 60)
    assert run.step_no == 2 and store.recent_runs("clear-cache", "target", 60) == []


def test_recent_closed_and_timings_view(store: IncidentStore, ops_url: str) -> None:
    incident_id = ingest(store, alert()).opened[0]
    store.update(incident_id, fault="db-down", diagnosed_at=T0 + timedelta(seconds=3))
    walk(store, incident_id, S.diagnosing, S.escalated)
    assert [i.id for i in store.recent_closed("db-down", 60)] == [incident_id]
    assert store.recent_closed("api-crash", 60) == []
    engine = create_engine(ops_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM breakfix_incident_timings")).mappings().one()
    engine.dispose()
    assert (row["fault"], row["state"], row["detect_s"]) == ("db-down", "escalated", 3.0)
    assert row["mitigate_s"] is None


def test_list_filters_by_state_newest_first(store: IncidentStore) -> None:
    first = ingest(store, alert("aaaa")).opened[0]
    walk(store, first, S.diagnosing, S.resolved)
    second = ingest(store, alert("bbbb", at=datetime.now(UTC))).opened[0]
    assert [i.id for i in store.list()] == [second, first]
    assert [i.id for i in store.list(S.resolved)] == [first]
    assert [i.id for i in store.list(limit=1)] == [second]
