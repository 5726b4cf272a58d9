"""The agent's incidents in ops-db: intake with dedup and correlation, states, events, actions.

Concurrency: a repeat of a known alert is one row update with no lock beyond that row, so
a storm of identical alerts never queues behind anything. Anything that may open or join an
incident runs under one transaction-scoped advisory lock, so two workers can never both open
an incident for the same outage. Rows are always touched in (fingerprint, startsAt) order.
"""

import builtins
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.api.errors import IllegalTransition, IncidentNotFound, StoreUnavailable
from agent.model import Alert, IncidentState
from agent.store_models import (
    ActionRecord,
    AlertRecord,
    Event,
    Incident,
    IntakeResult,
    is_legal,
)
from lab.ops_store import OpsStore

_INTAKE_LOCK = 0x62666167  # pg_advisory_xact_lock key of the intake ("bfag")
# How long an escalated outage whose alerts still fire absorbs new alerts (no second page).
HANDOVER_S = 3600.0
_JSON_FIELDS = ("diagnosis", "plans", "decisions", "verification", "approval", "usage")
_TIME_FIELDS = ("diagnosed_at", "acted_at", "mitigated_at")
UPDATABLE = frozenset({*_JSON_FIELDS, *_TIME_FIELDS, "report", "mode", "fault", "title"})
# Action rows that did not touch the target: no cooldown starts from them.
_NOT_RUN = ("refused", "skipped", "needs_approval")

_Key = tuple[str, datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> str:
    """A field value as JSON text (pydantic models dumped in JSON mode)."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return json.dumps(value, default=str)


class IncidentStore:
    """Incidents, their timeline, received alerts and actions, on ops-db."""

    def __init__(self, url: str, *, handover_s: float = HANDOVER_S) -> None:
        """`handover_s`: how long an escalated outage still firing absorbs new alerts (0:
        never)."""
        self._ops = OpsStore(url, application_name="breakfix-agent", unavailable=StoreUnavailable)
        self.handover_s = handover_s

    def dispose(self) -> None:
        self._ops.dispose()

    def ping(self) -> None:
        """One round trip to ops-db (StoreUnavailable when it does not answer)."""
        with self._ops.session() as session:
            session.execute(text("SELECT 1"))

    # intake ---------------------------------------------------------------------------

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
        is kept as an event.
        """
        now = _now()
        batch: dict[_Key, tuple[Alert, int]] = {}
        for alert in alerts:
            key = (alert.fingerprint, alert.starts_at or now)
            seen = batch.get(key)
            # the resolved copy wins over a firing one in the same payload
            chosen = alert if seen is None or alert.status == "resolved" else seen[0]
            batch[key] = (chosen, 1 if seen is None else seen[1] + 1)
        result = IntakeResult()
        with self._ops.session() as session:
            pending = self._count_repeats(session, batch, result, now)
            if not pending:
                # Only repeat counters changed: a crash may lose a few counts, never an
                # incident, so this commit does not wait for the WAL flush (storms stay fast).
                session.execute(text("SET LOCAL synchronous_commit = off"))
            else:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INTAKE_LOCK})
                for key in sorted(pending):
                    alert, n = batch[key]
                    self._ingest_one(
                        session, key, alert, n, result, now, group_key, source, contract
                    )
            session.commit()
        return result

    def _count_repeats(
        self,
        session: Session,
        batch: dict[_Key, tuple[Alert, int]],
        result: IntakeResult,
        now: datetime,
    ) -> list[_Key]:
        """Pure repeats (same key, same status) counted without the intake lock."""
        pending: list[_Key] = []
        for key in sorted(batch):
            alert, n = batch[key]
            row = session.execute(
                text(
                    "UPDATE agent_alerts SET received_count = received_count + :n,"
                    " last_received = :now WHERE fingerprint = :fp AND starts_at = :sa"
                    " AND status = :status RETURNING incident_id"
                ),
                {"n": n, "now": now, "fp": key[0], "sa": key[1], "status": alert.status},
            ).first()
            if row is None:
                pending.append(key)
            else:
                result.duplicates += n
        return pending

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
                incident_id = self._open(session, alert, key, group_key, source, contract)
                result.opened.append(incident_id)
            else:
                self._attach(session, incident_id, alert, key)
                if late:
                    result.late += 1
                if incident_id not in result.attached and incident_id not in result.opened:
                    result.attached.append(incident_id)
        self._insert_alert(session, key, alert, n, incident_id, late, group_key, now)
        if incident_id is not None:
            step = {"firing": "alert_late" if late else "alert", "resolved": "alert_resolved"}
            self._event(
                session,
                incident_id,
                step[alert.status],
                {"fingerprint": key[0], "starts_at": key[1].isoformat(), "source": source},
                {"alertname": alert.alertname, "service": alert.service, "status": alert.status},
            )
            if contract is not None:
                self._event(session, incident_id, "incident_contract", contract, {})
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
            self._event(
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
        """The incident a new firing alert joins (and whether it is late), or None."""
        open_id = self._open_incident_id(session, group_key)
        if open_id is not None:
            return open_id, False
        last = session.execute(
            text(
                "SELECT id, closed_at, :fp = ANY(fingerprints) AS seen FROM agent_incidents"
                " WHERE closed_at IS NOT NULL ORDER BY closed_at DESC LIMIT 1"
            ),
            {"fp": key[0]},
        ).first()
        if last is not None and last.seen and key[1] < last.closed_at:
            return str(last.id), True
        # An outage handed to a human (escalated) that is still going on, one of its alerts
        # still firing: what else it sets off joins it instead of paging again.
        if self.handover_s <= 0:
            return None, False
        handed_over = session.execute(
            text(
                "SELECT i.id FROM agent_incidents i WHERE i.state = 'escalated'"
                " AND i.closed_at > :now - make_interval(secs => :within)"
                " AND EXISTS (SELECT 1 FROM agent_alerts a WHERE a.incident_id = i.id"
                " AND a.status = 'firing' AND NOT a.late)"
                " ORDER BY i.closed_at DESC LIMIT 1"
            ),
            {"now": _now(), "within": self.handover_s},
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
                "now": _now(),
                "detected": key[1],
            },
        ).scalar_one()
        self._event(
            session,
            incident_id,
            "opened",
            {"fingerprint": key[0], "alertname": alert.alertname, "group_key": group_key},
            {"state": IncidentState.detected.value},
            state_to=IncidentState.detected.value,
        )
        return incident_id

    def _attach(self, session: Session, incident_id: str, alert: Alert, key: _Key) -> None:
        session.execute(
            text(
                "UPDATE agent_incidents SET alert_count = alert_count + 1, updated_at = :now,"
                " fingerprints = CASE WHEN :fp = ANY(fingerprints) THEN fingerprints"
                "   ELSE array_append(fingerprints, :fp) END,"
                " alertnames = CASE WHEN :name = ANY(alertnames) THEN alertnames"
                "   ELSE array_append(alertnames, :name) END,"
                " detected_at = LEAST(detected_at, :sa) WHERE id = :id"
            ),
            {"now": _now(), "fp": key[0], "name": alert.alertname, "sa": key[1], "id": incident_id},
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

    # incidents ------------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident | None:
        """One incident, or None."""
        with self._ops.session() as session:
            row = (
                session.execute(
                    text("SELECT * FROM agent_incidents WHERE id = :id"), {"id": incident_id}
                )
                .mappings()
                .first()
            )
        return None if row is None else Incident.model_validate(dict(row))

    def require(self, incident_id: str) -> Incident:
        """One incident; IncidentNotFound when there is none."""
        incident = self.get(incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id!r}")
        return incident

    def by_external_id(self, external_id: str) -> Incident | None:
        """The incident opened for an incident-contract id, if any."""
        found = self._incidents(
            "SELECT * FROM agent_incidents WHERE external_id = :x", {"x": external_id}
        )
        return found[0] if found else None

    def open_incidents(self) -> list[Incident]:
        """Every incident not closed yet, oldest first."""
        return self._incidents(
            "SELECT * FROM agent_incidents WHERE closed_at IS NULL ORDER BY opened_at", {}
        )

    def recent_closed(self, fault: str, within_s: float) -> list[Incident]:
        """Incidents of `fault` closed in the last `within_s` seconds, newest first."""
        return self._incidents(
            "SELECT * FROM agent_incidents WHERE fault = :fault AND closed_at >= :since"
            " ORDER BY closed_at DESC",
            {"fault": fault, "since": _now() - timedelta(seconds=within_s)},
        )

    def _incidents(self, sql: str, params: Mapping[str, Any]) -> list[Incident]:
        with self._ops.session() as session:
            rows = session.execute(text(sql), dict(params)).mappings().all()
        return [Incident.model_validate(dict(r)) for r in rows]

    def transition(
        self,
        incident_id: str,
        to: IncidentState,
        *,
        step: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
    ) -> Incident:
        """Move an incident to `to` and record the step, in one transaction.

        Raises IllegalTransition for a move the state machine does not allow (closed states
        are final) and IncidentNotFound for an unknown id.
        """
        to = IncidentState(to)
        now = _now()
        with self._ops.session() as session:
            current = session.execute(
                text("SELECT state FROM agent_incidents WHERE id = :id FOR UPDATE"),
                {"id": incident_id},
            ).scalar()
            if current is None:
                raise IncidentNotFound(f"no incident {incident_id!r}")
            if not is_legal(IncidentState(current), to):
                raise IllegalTransition(f"incident {incident_id}: {current} -> {to} is not allowed")
            row = (
                session.execute(
                    text(
                        "UPDATE agent_incidents SET state = :to, updated_at = :now,"
                        " closed_at = CASE WHEN :closed THEN :now ELSE closed_at END"
                        " WHERE id = :id RETURNING *"
                    ),
                    {"to": to.value, "now": now, "closed": to.closed, "id": incident_id},
                )
                .mappings()
                .one()
            )
            self._event(
                session, incident_id, step, inputs, outputs, state_from=current, state_to=to.value
            )
            session.commit()
        return Incident.model_validate(dict(row))

    def update(self, incident_id: str, **fields: Any) -> Incident:
        """Set fields of an incident (see UPDATABLE); models are stored as JSON."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if not fields:
            return self.require(incident_id)
        sets, params = ["updated_at = :now"], {"id": incident_id, "now": _now()}
        for name, value in fields.items():
            if name in _JSON_FIELDS:
                sets.append(f"{name} = CAST(:{name} AS jsonb)")
                params[name] = _json(value)
            else:
                sets.append(f"{name} = :{name}")
                params[name] = value
        with self._ops.session() as session:
            row = (
                session.execute(
                    text(
                        f"UPDATE agent_incidents SET {', '.join(sets)} WHERE id = :id RETURNING *"
                    ),
                    params,
                )
                .mappings()
                .first()
            )
            session.commit()
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id!r}")
        return Incident.model_validate(dict(row))

    # timeline -------------------------------------------------------------------------

    def add_event(
        self, incident_id: str, step: str, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> Event:
        """Record a step of an incident's timeline that does not change its state."""
        with self._ops.session() as session:
            event = self._event(session, incident_id, step, inputs, outputs)
            session.commit()
        return event

    def _event(
        self,
        session: Session,
        incident_id: str,
        step: str,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        *,
        state_from: str | None = None,
        state_to: str | None = None,
    ) -> Event:
        row = (
            session.execute(
                text(
                    "INSERT INTO agent_incident_events (incident_id, at, step, state_from,"
                    " state_to, inputs, outputs) VALUES (:id, :at, :step, :sf, :st,"
                    " CAST(:inputs AS jsonb), CAST(:outputs AS jsonb)) RETURNING *"
                ),
                {
                    "id": incident_id,
                    "at": _now(),
                    "step": step,
                    "sf": state_from,
                    "st": state_to,
                    "inputs": _json(dict(inputs)),
                    "outputs": _json(dict(outputs)),
                },
            )
            .mappings()
            .one()
        )
        return Event.model_validate(dict(row))

    def events(self, incident_id: str) -> list[Event]:
        """An incident's timeline, oldest first."""
        with self._ops.session() as session:
            rows = (
                session.execute(
                    text("SELECT * FROM agent_incident_events WHERE incident_id = :id ORDER BY id"),
                    {"id": incident_id},
                )
                .mappings()
                .all()
            )
        return [Event.model_validate(dict(r)) for r in rows]

    def alerts(self, incident_id: str) -> list[AlertRecord]:
        """Every alert received for an incident, in the order they started."""
        with self._ops.session() as session:
            rows = (
                session.execute(
                    text(
                        "SELECT * FROM agent_alerts WHERE incident_id = :id"
                        " ORDER BY starts_at, fingerprint"
                    ),
                    {"id": incident_id},
                )
                .mappings()
                .all()
            )
        return [AlertRecord.model_validate(dict(r)) for r in rows]

    def firing_alerts(self, incident_id: str) -> list[Alert]:
        """The incident's alerts still firing (no resolved notification yet)."""
        return [
            Alert(
                fingerprint=r.fingerprint,
                alertname=r.alertname,
                status="firing",
                service=r.service,
                severity=r.severity,
                labels=r.labels,
                annotations=r.annotations,
                starts_at=r.starts_at,
                group_key=r.group_key,
                source=r.source,
            )
            for r in self.alerts(incident_id)
            if r.status == "firing"
        ]

    # actions --------------------------------------------------------------------------

    def record_action(
        self,
        *,
        incident_id: str,
        step_no: int,
        action: str,
        target: str,
        idempotency_key: str,
        status: str,
        attempt: int = 1,
        params: dict[str, Any] | None = None,
        dry_run: bool = False,
        run_id: str | None = None,
        detail: dict[str, Any] | None = None,
        finished_at: datetime | None = None,
    ) -> ActionRecord:
        """Record an action (by its idempotency key); recording the same key again updates
        its status, run id, detail and finish time."""
        with self._ops.session() as session:
            row = (
                session.execute(
                    text(
                        "INSERT INTO agent_actions (incident_id, step_no, attempt, action,"
                        " target, params, idempotency_key, run_id, status, dry_run, started_at,"
                        " finished_at, detail) VALUES (:inc, :step, :attempt, :action, :target,"
                        " CAST(:params AS jsonb), :key, :run, :status, :dry, :now, :fin,"
                        " CAST(:detail AS jsonb)) ON CONFLICT (idempotency_key) DO UPDATE SET"
                        " status = EXCLUDED.status, run_id = COALESCE(EXCLUDED.run_id,"
                        " agent_actions.run_id), finished_at = COALESCE(EXCLUDED.finished_at,"
                        " agent_actions.finished_at), detail = EXCLUDED.detail RETURNING *"
                    ),
                    {
                        "inc": incident_id,
                        "step": step_no,
                        "attempt": attempt,
                        "action": action,
                        "target": target,
                        "params": _json(params or {}),
                        "key": idempotency_key,
                        "run": run_id,
                        "status": status,
                        "dry": dry_run,
                        "now": _now(),
                        "fin": finished_at,
                        "detail": _json(detail or {}),
                    },
                )
                .mappings()
                .one()
            )
            session.commit()
        return ActionRecord.model_validate(dict(row))

    def actions(self, incident_id: str) -> list[ActionRecord]:
        """An incident's actions in the order they were taken."""
        with self._ops.session() as session:
            rows = (
                session.execute(
                    text("SELECT * FROM agent_actions WHERE incident_id = :id ORDER BY id"),
                    {"id": incident_id},
                )
                .mappings()
                .all()
            )
        return [ActionRecord.model_validate(dict(r)) for r in rows]

    def last_action_at(self, target: str) -> datetime | None:
        """When an action last really ran against `target` (dry runs and refusals excluded)."""
        with self._ops.session() as session:
            value: datetime | None = session.execute(
                text(
                    "SELECT max(started_at) FROM agent_actions WHERE target = :t"
                    " AND NOT dry_run AND status <> ALL(:not_run)"
                ),
                {"t": target, "not_run": list(_NOT_RUN)},
            ).scalar()
        return value

    def counts_by_state(self) -> dict[str, int]:
        """How many incidents are in each state (for /metrics)."""
        with self._ops.session() as session:
            rows = session.execute(
                text("SELECT state, count(*) FROM agent_incidents GROUP BY state")
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def action_counts(self) -> dict[tuple[str, str], int]:
        """How many actions were recorded, by action and status (for /metrics)."""
        with self._ops.session() as session:
            rows = session.execute(
                text("SELECT action, status, count(*) FROM agent_actions GROUP BY 1, 2")
            ).all()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    def list(self, state: IncidentState | None = None, limit: int = 50) -> builtins.list[Incident]:
        """Incidents newest first, optionally in one state."""
        where = "" if state is None else "WHERE state = :state"
        return self._incidents(
            f"SELECT * FROM agent_incidents {where} ORDER BY opened_at DESC, id DESC LIMIT :lim",
            {"state": None if state is None else IncidentState(state).value, "lim": limit},
        )
