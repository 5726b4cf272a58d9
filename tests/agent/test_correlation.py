"""Which incident a new alert joins, escalated outages that hand over only their own alerts,
firing records that expire, and the reconcile on start (real Postgres for ops-db)."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from agent.correlation import OpenOutage, affinity
from agent.model import Alert, IncidentState
from agent.store import IncidentStore

S = IncidentState


def alert(fp: str, name: str, service: str = "target", **kw: object) -> Alert:
    return Alert(
        fingerprint=fp,
        alertname=name,
        status=str(kw.pop("status", "firing")),
        service=service,
        severity="critical",
        starts_at=kw.pop("at", datetime.now(UTC)),
        ends_at=kw.pop("ends_at", None),
    )


def ingest(store: IncidentStore, *alerts: Alert):  # type: ignore[no-untyped-def]
    return store.ingest(list(alerts), group_key=None, source="alertmanager")


def walk(store: IncidentStore, incident_id: str, *states: IncidentState) -> None:
    for to in states:
        store.transition(incident_id, to, step=f"to-{to}", inputs={}, outputs={})


def planned(store: IncidentStore, incident_id: str) -> None:
    """The incident has a plan (a fix under way): it is no longer forming its picture."""
    plan = {"hypothesis": {"fault": "api-crash", "confidence": 0.9, "summary": "x"}, "steps": []}
    store.update(incident_id, plans=[plan])


OUTAGE = OpenOutage(
    state=S.acting,
    planned=True,
    alertnames=frozenset({"ServiceDown"}),
    services=frozenset({"target"}),
)


@pytest.mark.parametrize(
    ("state", "is_planned", "name", "service", "joins"),
    [
        (S.detected, False, "DbBlockedSessions", "target-db", True),  # forming: one outage
        (S.diagnosing, False, "UpstreamDown", "upstream-primary", True),
        (S.acting, True, "HighErrorRatio", "target", True),  # being fixed: its service
        (S.verifying, True, "DbBlockedSessions", "target-db", False),  # another service
        (S.diagnosing, True, "UpstreamDown", "upstream-primary", False),  # re-diagnosing
        (S.awaiting_approval, True, "ServiceDown", "target", True),  # its own alert again
        (S.awaiting_approval, True, "HighErrorRatio", "target", False),  # a new outage
        (S.awaiting_approval, False, "DbBlockedSessions", "target-db", False),
    ],
)
def test_affinity(
    state: IncidentState, is_planned: bool, name: str, service: str, joins: bool
) -> None:
    outage = OpenOutage(
        state=state, planned=is_planned, alertnames=OUTAGE.alertnames, services=OUTAGE.services
    )
    assert (affinity(outage, alertname=name, service=service) > 0) is joins


def test_an_incident_being_fixed_does_not_swallow_another_services_outage(
    store: IncidentStore,
) -> None:
    first = ingest(store, alert("c1", "ServiceDown")).opened[0]
    walk(store, first, S.diagnosing, S.planned)
    planned(store, first)
    walk(store, first, S.acting)
    same = ingest(store, alert("c2", "HighErrorRatio"))
    assert same.attached == [first] and same.opened == []
    other = ingest(store, alert("c3", "DbBlockedSessions", service="target-db"))
    assert len(other.opened) == 1 and other.opened[0] != first
    # the second outage's own alerts now go to it, not the first
    more = ingest(store, alert("c4", "DbConnectionsHigh", service="target-db"))
    assert more.attached == other.opened


def test_a_new_outage_during_an_approval_gets_its_own_incident(store: IncidentStore) -> None:
    waiting = ingest(store, alert("w1", "DbAuthFailing", service="target-db")).opened[0]
    walk(store, waiting, S.diagnosing, S.planned)
    planned(store, waiting)
    walk(store, waiting, S.awaiting_approval)
    crash = ingest(store, alert("w2", "ServiceDown"))
    assert len(crash.opened) == 1 and crash.opened[0] != waiting
    again = ingest(store, alert("w3", "DbAuthFailing", service="target-db"))
    assert again.attached == [waiting]  # a new episode of its own alert


def test_an_escalated_outage_takes_only_its_own_alerts_for_a_bounded_time(
    store: IncidentStore,
) -> None:
    """net-db-partition: escalated at once; what it sets off again joins the incident the
    human was paged for. An unrelated outage (another alert, another service) is handled."""
    store.handover_s = 600
    escalated = ingest(store, alert("e1", "ProbeFailing", service="target-db")).opened[0]
    walk(store, escalated, S.diagnosing, S.escalated)
    own = ingest(store, alert("e2", "ProbeFailing", service="target-db"))
    assert own.attached == [escalated] and own.late == 1
    unrelated = ingest(store, alert("e3", "ServiceDown", service="target"))
    assert len(unrelated.opened) == 1
    walk(store, unrelated.opened[0], S.diagnosing, S.resolved)
    same_name_elsewhere = ingest(store, alert("e4", "ProbeFailing", service="target"))
    assert len(same_name_elsewhere.opened) == 1
    walk(store, same_name_elsewhere.opened[0], S.diagnosing, S.resolved)
    store.handover_s = 0.5  # the handover window has passed
    time.sleep(0.6)
    after = ingest(store, alert("e5", "ProbeFailing", service="target-db"))
    assert len(after.opened) == 1


def test_a_firing_record_not_refreshed_expires(store: IncidentStore) -> None:
    store.handover_s = 600
    store._intake.alert_expiry_s = 1.0
    escalated = ingest(store, alert("x1", "ProbeFailing", service="target-db")).opened[0]
    walk(store, escalated, S.diagnosing, S.escalated)
    refreshed = alert("x2", "ServiceDown", service="target")  # an Alertmanager endsAt ahead
    refreshed = refreshed.model_copy(update={"ends_at": datetime.now(UTC) + timedelta(seconds=60)})
    kept = ingest(store, refreshed).opened[0]
    time.sleep(1.2)
    expired = store.expire_alerts()
    assert expired == [(escalated, "ProbeFailing")]  # endsAt ahead: not expired
    (row,) = store.alerts(escalated)
    assert row.status == "resolved"
    assert store.events(escalated)[-1].step == "alert_expired"
    assert store.alerts(kept)[0].status == "firing"
    walk(store, kept, S.diagnosing, S.resolved)
    # the escalated outage no longer fires: the same alert again is a new outage
    again = ingest(store, alert("x3", "ProbeFailing", service="target-db"))
    assert len(again.opened) == 1


def test_reconcile_resolves_what_observability_no_longer_reports(store: IncidentStore) -> None:
    gone = ingest(store, alert("r1", "ServiceDown")).opened[0]
    ingest(store, alert("r2", "ProbeFailing"))  # joins the same forming incident
    resolved = store.reconcile_alerts(
        firing={"r2"}, received_before=datetime.now(UTC) + timedelta(seconds=1)
    )
    assert resolved == [(gone, "ServiceDown")]
    statuses = {a.fingerprint: a.status for a in store.alerts(gone)}
    assert statuses == {"r1": "resolved", "r2": "firing"}
    assert store.events(gone)[-1].step == "alert_reconciled"
    # a record received after the start is never touched
    fresh = store.reconcile_alerts(
        firing=set(), received_before=datetime.now(UTC) - timedelta(hours=1)
    )
    assert fresh == []


def test_a_slower_alert_on_a_service_the_fix_verifies_joins_the_fix(
    store: IncidentStore,
) -> None:
    """db-lock: the first look acts on DbBlockedSessions (target-db) alone; the target's
    latency alert fires a moment later. The plan verifies the target's health too, so the
    latency alert is the same outage, not an incident of its own (that one restarted the API
    for nothing in a game day)."""
    first = ingest(store, alert("s1", "DbBlockedSessions", service="target-db")).opened[0]
    walk(store, first, S.diagnosing, S.planned)
    plan = {
        "hypothesis": {"fault": "db-lock", "confidence": 0.9, "summary": "x"},
        "steps": [],
        "verification": {"signals": [], "health": ["target", "target-db"]},
    }
    store.update(first, plans=[plan])
    walk(store, first, S.acting, S.verifying)
    slower = ingest(store, alert("s2", "HighLatencyP99", service="target"))
    assert slower.attached == [first] and slower.opened == []
    elsewhere = ingest(store, alert("s3", "ProbeFailing", service="upstream-primary"))
    assert len(elsewhere.opened) == 1
