"""New firing alerts that join an open incident, written together at the end of a batch.

In a storm most new alerts belong to an outage already open. For those, one transaction of
the intake (agent/store/intake.py) reads the open incidents once, correlates each alert in
memory (agent/correlation.py, exactly as one alert after another would be), and then writes
the alert rows, their timeline events and each incident's counters in three statements,
instead of five round trips per alert. Anything else (an alert already recorded, a
resolution, a contract, an alert that opens an incident or joins a closed one) goes the
one-by-one way, after what is held here has been written, so the order of the timeline and
every read of the store are as if each alert had been written on its own.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.correlation import OpenOutage, best_open
from agent.model import Alert, IncidentState
from agent.store.events import as_json, utcnow
from agent.store.models import IntakeResult

_Key = tuple[str, datetime]

# Every open incident with what correlation needs of it (its alerts' services and the ones
# its current plan verifies), and what orders candidates (groupKey, newest first).
OPEN_OUTAGES = (
    "SELECT i.id, i.state, i.alertnames, i.group_key, i.opened_at,"
    " jsonb_array_length(i.plans) AS planned,"
    " ARRAY(SELECT DISTINCT a.service FROM agent_alerts a"
    "   WHERE a.incident_id = i.id AND a.service IS NOT NULL"
    "  UNION SELECT jsonb_array_elements_text(COALESCE("
    "   i.plans -> -1 -> 'verification' -> 'health', '[]'::jsonb))) AS services"
    " FROM agent_incidents i WHERE i.closed_at IS NULL"
)
_INSERT_ALERTS = (
    "INSERT INTO agent_alerts (fingerprint, starts_at, incident_id, alertname, service,"
    " severity, status, source, late, first_received, last_received, received_count, ends_at,"
    " labels, annotations, group_key) SELECT r.fingerprint, r.starts_at, r.incident_id,"
    " r.alertname, r.service, r.severity, 'firing', r.source, false, :now, :now,"
    " r.received_count, r.ends_at, r.labels, r.annotations, r.group_key"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(fingerprint text,"
    " starts_at timestamptz, incident_id text, alertname text, service text, severity text,"
    " source text, received_count integer, ends_at timestamptz, labels jsonb,"
    " annotations jsonb, group_key text)"
)
_INSERT_EVENTS = (
    "INSERT INTO agent_incident_events (incident_id, at, step, inputs, outputs)"
    " SELECT r.incident_id, r.at, 'alert', r.inputs, r.outputs"
    " FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb))"
    "  AS (incident_id text, at timestamptz, inputs jsonb, outputs jsonb))"
    " WITH ORDINALITY AS r(incident_id, at, inputs, outputs, i) ORDER BY r.i"
)
_ATTACH = (
    "UPDATE agent_incidents SET alert_count = alert_count + :count, updated_at = :now,"
    " fingerprints = fingerprints || ARRAY(SELECT f FROM unnest(CAST(:fps AS text[]))"
    "   WITH ORDINALITY AS u(f, o) WHERE f <> ALL(fingerprints) ORDER BY o),"
    " alertnames = alertnames || ARRAY(SELECT f FROM unnest(CAST(:names AS text[]))"
    "   WITH ORDINALITY AS u(f, o) WHERE f <> ALL(alertnames) ORDER BY o),"
    " detected_at = LEAST(detected_at, :sa) WHERE id = :id"
)


@dataclass
class Candidate:
    """An open incident as a candidate for new alerts, updated as alerts join it here."""

    id: str
    outage: OpenOutage
    group_key: str | None
    opened_at: datetime


def candidates(session: Session) -> list[Candidate]:
    """The open incidents, as correlation sees them."""
    return [
        Candidate(
            id=str(row.id),
            outage=OpenOutage(
                state=IncidentState(row.state),
                planned=bool(row.planned),
                alertnames=frozenset(row.alertnames),
                services=frozenset(row.services),
            ),
            group_key=row.group_key,
            opened_at=row.opened_at,
        )
        for row in session.execute(text(OPEN_OUTAGES))
    ]


def joined(
    open_incidents: list[Candidate], *, alertname: str, service: str | None, group_key: str | None
) -> str | None:
    """The open incident a new firing alert joins: the groupKey's incidents listed first,
    then newest first (agent.correlation.best_open)."""
    ordered = sorted(
        open_incidents, key=lambda c: (c.group_key != group_key, -c.opened_at.timestamp())
    )
    return best_open([(c.id, c.outage) for c in ordered], alertname=alertname, service=service)


@dataclass
class _Attached:
    count: int = 0
    fingerprints: list[str] = field(default_factory=list)
    alertnames: list[str] = field(default_factory=list)
    detected: datetime | None = None


class Joining:
    """New firing alerts joining open incidents in one transaction, held until `flush`."""

    def __init__(self, session: Session, now: datetime) -> None:
        self._session, self._now = session, now
        self._open: list[Candidate] | None = None  # read once until a one-by-one write
        self._alerts: dict[_Key, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._attached: dict[str, _Attached] = {}

    def take(
        self,
        key: _Key,
        alert: Alert,
        n: int,
        result: IntakeResult,
        *,
        group_key: str | None,
        detected: datetime,
        seen: dict[str, Any],
    ) -> bool:
        """Hold a new firing alert (`n` copies) that joins an open incident, or a repeat of
        one held; False when it joins none (the caller writes it one by one). `detected`: its
        start for the incident's timing; `seen`: its event's inputs."""
        held = self._alerts.get(key)
        if held is not None:  # the same alert in another call of this batch: a repeat
            held["received_count"] += n
            result.duplicates += n
            return True
        if self._open is None:
            self._open = candidates(self._session)
        incident_id = joined(
            self._open, alertname=alert.alertname, service=alert.service, group_key=group_key
        )
        if incident_id is None:
            return False
        result.duplicates += n - 1
        if incident_id not in result.attached and incident_id not in result.opened:
            result.attached.append(incident_id)
        self._note(incident_id, alert, key, detected)
        self._alerts[key] = {
            "fingerprint": key[0],
            "starts_at": key[1].isoformat(),
            "incident_id": incident_id,
            "alertname": alert.alertname,
            "service": alert.service,
            "severity": alert.severity,
            "source": alert.source,
            "received_count": n,
            "ends_at": None if alert.ends_at is None else alert.ends_at.isoformat(),
            "labels": alert.labels,
            "annotations": alert.annotations,
            "group_key": group_key,
        }
        self._events.append(
            {
                "incident_id": incident_id,
                "at": utcnow().isoformat(),
                "inputs": seen,
                "outputs": {
                    "alertname": alert.alertname,
                    "service": alert.service,
                    "status": "firing",
                },
            }
        )
        return True

    def _note(self, incident_id: str, alert: Alert, key: _Key, detected: datetime) -> None:
        """The incident's counters, and what correlation sees of it from now on."""
        attached = self._attached.setdefault(incident_id, _Attached())
        attached.count += 1
        if key[0] not in attached.fingerprints:
            attached.fingerprints.append(key[0])
        if alert.alertname not in attached.alertnames:
            attached.alertnames.append(alert.alertname)
        attached.detected = (
            detected if attached.detected is None else min(attached.detected, detected)
        )
        for candidate in self._open or []:
            if candidate.id == incident_id:
                services = candidate.outage.services
                candidate.outage = replace(
                    candidate.outage,
                    alertnames=candidate.outage.alertnames | {alert.alertname},
                    services=services if alert.service is None else services | {alert.service},
                )

    def flush(self) -> None:
        """Write what is held (incident counters, alert rows, events, in that order) and read
        the open incidents afresh next time."""
        session, now = self._session, self._now
        for incident_id, attached in sorted(self._attached.items()):
            session.execute(
                text(_ATTACH),
                {
                    "count": attached.count,
                    "now": utcnow(),
                    "fps": attached.fingerprints,
                    "names": attached.alertnames,
                    "sa": attached.detected,
                    "id": incident_id,
                },
            )
        if self._alerts:
            rows = as_json(list(self._alerts.values()))
            session.execute(text(_INSERT_ALERTS), {"rows": rows, "now": now})
        if self._events:
            session.execute(text(_INSERT_EVENTS), {"rows": as_json(self._events)})
        self._open = None
        self._alerts, self._events, self._attached = {}, [], {}
