"""Alert intake into ops-db: repeats counted, new alerts correlated into incidents.

Concurrency: calls arriving together are written in one transaction (group_commit.py), as
if one after another, each answered once it is committed; the repeats of all of them are
counted in one statement (repeats.py), rows locked in (fingerprint, startsAt) order, and a
transaction of repeats alone takes no other lock, so a storm of identical alerts costs one
statement per transaction, not one per call. Anything that may open or join an incident
runs under one transaction-scoped advisory lock, so two workers (or two agents on one
ops-db) can never both open an incident for the same outage; new alerts joining an open
incident are correlated in memory and written together (joining.py).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.model import Alert, IncidentState
from agent.store import repeats
from agent.store.events import utcnow, write_event
from agent.store.firing import ALERT_EXPIRY_S, FIRING
from agent.store.group_commit import GroupCommit
from agent.store.joining import Joining, candidates, joined
from agent.store.models import IntakeResult
from lab.ops_store import OpsStore

_INTAKE_LOCK = 0x62666167  # pg_advisory_xact_lock key of the intake ("bfag")
# How long an escalated outage whose alerts still fire absorbs new alerts of its own kind on
# its own service (no second page for the same outage).
HANDOVER_S = 600.0
CLOCK_SKEW_S = 1.0  # an alert starting further ahead than this of its receipt is recorded

_Key = repeats.Key


@dataclass
class _Job:
    """One call's alerts and what the store needs to correlate them."""

    alerts: list[Alert]
    group_key: str | None
    source: str
    contract: dict[str, Any] | None


class AlertIntake:
    """Records received alerts against the agent's incidents (IncidentStore.ingest)."""

    def __init__(
        self,
        ops: OpsStore,
        *,
        handover_s: float = HANDOVER_S,
        alert_expiry_s: float = ALERT_EXPIRY_S,
    ) -> None:
        """`handover_s`: how long an escalated outage still firing absorbs new alerts of its
        own (0: never); `alert_expiry_s`: see ALERT_EXPIRY_S."""
        self._ops = ops
        self.handover_s, self.alert_expiry_s = handover_s, alert_expiry_s
        self._writes: GroupCommit[_Job, IntakeResult] = GroupCommit(
            self._write, name="agent-intake", fails_all=(ops.unavailable,)
        )

    def ingest(
        self,
        alerts: list[Alert],
        *,
        group_key: str | None,
        source: str,
        contract: dict[str, Any] | None = None,
    ) -> IntakeResult:
        """Record alerts: repeats counted, firing alerts join the open incident or open one.

        A resolved notification marks its alert resolved and leaves an event on its
        incident. `contract` (the incident contract) names the incident's external id and
        is kept as an event. Concurrent calls are written together, each answered with its
        own result once that transaction is committed (agent/store/group_commit.py).
        """
        return self._writes.submit(_Job(alerts, group_key, source, contract))

    async def ingest_async(
        self,
        alerts: list[Alert],
        *,
        group_key: str | None,
        source: str,
        contract: dict[str, Any] | None = None,
    ) -> IntakeResult:
        """`ingest` for the API's event loop: it waits for the write without a thread."""
        return await self._writes.submit_async(_Job(alerts, group_key, source, contract))

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        self._writes.close()

    def _write(self, jobs: Sequence[_Job]) -> list[IntakeResult]:
        """Record every job's alerts in one transaction, in order: as if one after another."""
        now = utcnow()
        keyed = [repeats.keyed(job.alerts, now) for job in jobs]
        results = [IntakeResult() for _ in jobs]
        with self._ops.session() as session:
            pending = repeats.count_repeats(session, keyed, results, now)
            if not any(pending):
                # Only repeat counters changed: a crash may lose a few counts, never an
                # incident, so this commit does not wait for the WAL flush (storms stay fast).
                session.execute(text("SET LOCAL synchronous_commit = off"))
            else:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INTAKE_LOCK})
                self._ingest_new(session, jobs, keyed, results, pending, now)
            session.commit()
        return results

    def _ingest_new(
        self,
        session: Session,
        jobs: Sequence[_Job],
        keyed: list[repeats.Keyed],
        results: list[IntakeResult],
        pending: list[list[_Key]],
        now: datetime,
    ) -> None:
        """What is not a pure repeat, job after job (under the intake lock): new firing alerts
        joining an open incident held and written together (agent/store/joining.py), the
        rest one by one once those are written."""
        recorded = repeats.recorded(session, [k for keys in pending for k in keys])
        joining = Joining(session, now)
        for job, batch, result, keys in zip(jobs, keyed, results, pending, strict=True):
            for key in sorted(keys):
                alert, n = batch[key]
                if (
                    job.contract is None
                    and alert.status == "firing"
                    and key not in recorded
                    and joining.take(
                        key,
                        alert,
                        n,
                        result,
                        group_key=job.group_key,
                        detected=received_start(key[1], now),
                        seen=_seen(key, job.source, now),
                    )
                ):
                    continue
                joining.flush()
                self._ingest_one(
                    session, key, alert, n, result, now, job.group_key, job.source, job.contract
                )
                recorded.add(key)
        joining.flush()

    def _ingest_one(
        self,
        session: Session,
        key: _Key,
        alert: Alert,
        n: int,
        result: IntakeResult,
        now: datetime,
        group_key: str | None,
        source: str,
        contract: dict[str, Any] | None,
    ) -> None:
        existing = session.execute(
            text(
                "SELECT status, incident_id FROM agent_alerts"
                " WHERE fingerprint = :fp AND starts_at = :sa FOR UPDATE"
            ),
            {"fp": key[0], "sa": key[1]},
        ).first()
        if existing is not None:
            self._known_alert(session, key, alert, n, existing, result, now)
            return
        if contract is not None:
            known = session.execute(
                text("SELECT id FROM agent_incidents WHERE external_id = :x"),
                {"x": str(contract.get("incident_id"))},
            ).scalar()
            if known is not None:  # the same contract incident under another timestamp
                result.duplicates += n
                return
        result.duplicates += n - 1
        incident_id, late = None, False
        if alert.status == "resolved":
            incident_id = self._open_incident_id(session, group_key)
            result.resolved += 1
        else:
            incident_id, late = self._correlate(session, alert, key, group_key)
            if incident_id is None:
                incident_id = self._open(session, alert, key, group_key, source, contract, now)
                result.opened.append(incident_id)
            else:
                self._attach(session, incident_id, alert, key, now)
                if late:
                    result.late += 1
                if incident_id not in result.attached and incident_id not in result.opened:
                    result.attached.append(incident_id)
        self._insert_alert(session, key, alert, n, incident_id, late, group_key, now)
        if incident_id is not None:
            step = {"firing": "alert_late" if late else "alert", "resolved": "alert_resolved"}
            write_event(
                session,
                incident_id,
                step[alert.status],
                _seen(key, source, now),
                {"alertname": alert.alertname, "service": alert.service, "status": alert.status},
            )
            if contract is not None:
                write_event(session, incident_id, "incident_contract", contract, {})
                session.execute(
                    text(
                        "UPDATE agent_incidents SET external_id = :x"
                        " WHERE id = :id AND external_id IS NULL"
                    ),
                    {"x": str(contract.get("incident_id")), "id": incident_id},
                )

    def _known_alert(
        self,
        session: Session,
        key: _Key,
        alert: Alert,
        n: int,
        existing: Any,
        result: IntakeResult,
        now: datetime,
    ) -> None:
        resolving = existing.status == "firing" and alert.status == "resolved"
        session.execute(
            text(
                "UPDATE agent_alerts SET received_count = received_count + :n,"
                " last_received = :now, status = :status, ends_at = COALESCE(:ends, ends_at),"
                " resolved_at = CASE WHEN :resolving THEN :resolved_at ELSE resolved_at END"
                " WHERE fingerprint = :fp AND starts_at = :sa"
            ),
            {
                "n": n,
                "now": now,
                "status": "resolved" if resolving else existing.status,
                "ends": alert.ends_at if resolving else None,
                "resolving": resolving,
                "resolved_at": alert.ends_at or now,
                "fp": key[0],
                "sa": key[1],
            },
        )
        if not resolving:  # a repeat, or a firing copy arriving after its resolution
            result.duplicates += n
            return
        result.resolved += 1
        result.duplicates += n - 1
        if existing.incident_id is not None:
            write_event(
                session,
                existing.incident_id,
                "alert_resolved",
                {"fingerprint": key[0], "starts_at": key[1].isoformat()},
                {"alertname": alert.alertname, "ends_at": (alert.ends_at or now).isoformat()},
            )

    def _open_incident_id(self, session: Session, group_key: str | None) -> str | None:
        """The open incident (the one with this groupKey first), newest first."""
        return session.execute(
            text(
                "SELECT id FROM agent_incidents WHERE closed_at IS NULL"
                " ORDER BY (group_key IS NOT DISTINCT FROM :gk) DESC, opened_at DESC LIMIT 1"
            ),
            {"gk": group_key},
        ).scalar()

    def _correlate(
        self, session: Session, alert: Alert, key: _Key, group_key: str | None
    ) -> tuple[str | None, bool]:
        """The incident a new firing alert joins (and whether it is late), or None: open one.

        An open incident takes the alert when it is the same outage (agent/correlation.py);
        else a closed incident takes a late copy of one of its own alerts; else an escalated
        outage still firing takes an alert of its own kind on its own service, for a bounded
        `handover_s`. Anything else is a new outage: its own incident.
        """
        found = joined(
            candidates(session),
            alertname=alert.alertname,
            service=alert.service,
            group_key=group_key,
        )
        if found is not None:
            return found, False
        last = session.execute(
            text(
                "SELECT id, closed_at, :fp = ANY(fingerprints) AS seen FROM agent_incidents"
                " WHERE closed_at IS NOT NULL ORDER BY closed_at DESC LIMIT 1"
            ),
            {"fp": key[0]},
        ).first()
        if last is not None and last.seen and key[1] < last.closed_at:
            return str(last.id), True
        if self.handover_s <= 0:
            return None, False
        now = utcnow()
        handed_over = session.execute(
            text(
                "SELECT i.id FROM agent_incidents i WHERE i.state = 'escalated'"
                " AND i.closed_at > :now - make_interval(secs => :within)"
                " AND :name = ANY(i.alertnames)"
                " AND EXISTS (SELECT 1 FROM agent_alerts a WHERE a.incident_id = i.id"
                "   AND a.service IS NOT DISTINCT FROM :service AND NOT a.late AND "
                + FIRING
                + ") ORDER BY i.closed_at DESC LIMIT 1"
            ),
            {
                "now": now,
                "within": self.handover_s,
                "name": alert.alertname,
                "service": alert.service,
                "expiry": self.alert_expiry_s,
            },
        ).scalar()
        if handed_over is not None:
            return str(handed_over), True
        return None, False

    def _open(
        self,
        session: Session,
        alert: Alert,
        key: _Key,
        group_key: str | None,
        source: str,
        contract: dict[str, Any] | None,
        now: datetime,
    ) -> str:
        summary = alert.annotations.get("summary") or alert.alertname
        title = (
            summary
            if alert.service is None or alert.service in summary
            else (f"{summary} ({alert.service})")
        )
        incident_id: str = session.execute(
            text(
                "INSERT INTO agent_incidents (state, title, service, severity, source,"
                " external_id, group_key, fingerprints, alertnames, alert_count, opened_at,"
                " detected_at, updated_at) VALUES ('detected', :title, :service, :severity,"
                " :source, :external, :gk, ARRAY[:fp], ARRAY[:name], 1, :now, :detected, :now)"
                " RETURNING id"
            ),
            {
                "title": title,
                "service": alert.service,
                "severity": alert.severity,
                "source": source,
                "external": None if contract is None else str(contract.get("incident_id")),
                "gk": group_key,
                "fp": key[0],
                "name": alert.alertname,
                "now": utcnow(),
                "detected": received_start(key[1], now),
            },
        ).scalar_one()
        write_event(
            session,
            incident_id,
            "opened",
            {"fingerprint": key[0], "alertname": alert.alertname, "group_key": group_key},
            {"state": IncidentState.detected.value},
            state_to=IncidentState.detected.value,
        )
        return incident_id

    def _attach(
        self, session: Session, incident_id: str, alert: Alert, key: _Key, now: datetime
    ) -> None:
        session.execute(
            text(
                "UPDATE agent_incidents SET alert_count = alert_count + 1, updated_at = :now,"
                " fingerprints = CASE WHEN :fp = ANY(fingerprints) THEN fingerprints"
                "   ELSE array_append(fingerprints, :fp) END,"
                " alertnames = CASE WHEN :name = ANY(alertnames) THEN alertnames"
                "   ELSE array_append(alertnames, :name) END,"
                " detected_at = LEAST(detected_at, :sa) WHERE id = :id"
            ),
            {
                "now": utcnow(),
                "fp": key[0],
                "name": alert.alertname,
                "sa": received_start(key[1], now),
                "id": incident_id,
            },
        )

    def _insert_alert(
        self,
        session: Session,
        key: _Key,
        alert: Alert,
        n: int,
        incident_id: str | None,
        late: bool,
        group_key: str | None,
        now: datetime,
    ) -> None:
        resolved = alert.status == "resolved"
        session.execute(
            text(
                "INSERT INTO agent_alerts (fingerprint, starts_at, incident_id, alertname, service,"
                " severity, status, source, late, first_received, last_received, received_count,"
                " ends_at, resolved_at, labels, annotations, group_key) VALUES (:fp, :sa, :inc,"
                " :name, :service, :severity, :status, :source, :late, :now, :now, :n, :ends,"
                " :resolved_at, CAST(:labels AS jsonb), CAST(:annotations AS jsonb), :gk)"
            ),
            {
                "fp": key[0],
                "sa": key[1],
                "inc": incident_id,
                "name": alert.alertname,
                "service": alert.service,
                "severity": alert.severity,
                "status": alert.status,
                "source": alert.source,
                "late": late,
                "now": now,
                "n": n,
                "ends": alert.ends_at,
                "resolved_at": (alert.ends_at or now) if resolved else None,
                "labels": json.dumps(alert.labels),
                "annotations": json.dumps(alert.annotations),
                "gk": group_key,
            },
        )


def _seen(key: _Key, source: str, now: datetime) -> dict[str, Any]:
    """The inputs of a received alert's event on its incident."""
    seen: dict[str, Any] = {
        "fingerprint": key[0],
        "starts_at": key[1].isoformat(),
        "source": source,
    }
    if (skew := clock_skew_s(key[1], now)) is not None:
        seen["clock_skew_s"] = skew  # taken as starting when received
    return seen


def received_start(starts_at: datetime, received: datetime) -> datetime:
    """When an alert started, for the incident's timing: never later than it was received (a
    sender's clock ahead of ours, or a forged startsAt, must not hold the incident back)."""
    return min(starts_at, received)


def clock_skew_s(starts_at: datetime, received: datetime) -> float | None:
    """Seconds an alert's start lies ahead of its receipt, when more than CLOCK_SKEW_S."""
    ahead = (starts_at - received).total_seconds()
    return round(ahead, 3) if ahead > CLOCK_SKEW_S else None
