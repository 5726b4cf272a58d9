"""The agent's incidents in ops-db: states, timeline, received alerts and actions.

Intake (dedup and correlation of received alerts) is agent/store/intake.py; IncidentStore
gives it the same ops-db connection pool.
"""

import builtins
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from agent.api.errors import IllegalTransition, IncidentNotFound, StoreUnavailable
from agent.model import Alert, IncidentState
from agent.store import firing as store_firing
from agent.store.events import as_json, utcnow, write_event
from agent.store.firing import ALERT_EXPIRY_S
from agent.store.intake import HANDOVER_S, AlertIntake
from agent.store.models import (
    ActionRecord,
    AlertRecord,
    Event,
    Incident,
    is_legal,
)
from lab.ops_store import OpsStore

_JSON_FIELDS = ("diagnosis", "plans", "decisions", "verification", "approval", "usage")
_TIME_FIELDS = ("diagnosed_at", "acted_at", "mitigated_at")
UPDATABLE = frozenset({*_JSON_FIELDS, *_TIME_FIELDS, "report", "mode", "fault", "title"})
# Action rows that did not touch the target: they do not count against the budget.
_NOT_RUN = ("refused", "skipped", "needs_approval")

__all__ = ["HANDOVER_S", "UPDATABLE", "IncidentStore"]


class IncidentStore:
    """Incidents, their timeline, received alerts and actions, on ops-db."""

    def __init__(
        self, url: str, *, handover_s: float = HANDOVER_S, alert_expiry_s: float = ALERT_EXPIRY_S
    ) -> None:
        """`handover_s`: how long an escalated outage still firing absorbs new alerts of its
        own (0: never); `alert_expiry_s`: when a firing record not refreshed is resolved."""
        self._ops = OpsStore(url, application_name="breakfix-agent", unavailable=StoreUnavailable)
        self._intake = AlertIntake(self._ops, handover_s=handover_s, alert_expiry_s=alert_expiry_s)
        # Record alerts: repeats counted, firing alerts join the open incident or open one.
        self.ingest = self._intake.ingest  # agent/store/intake.py
        self.ingest_async = self._intake.ingest_async  # the same, awaited on an event loop

    def dispose(self) -> None:
        self._intake.close()
        self._ops.dispose()

    def ping(self) -> None:
        """One round trip to ops-db (StoreUnavailable when it does not answer)."""
        with self._ops.session() as session:
            session.execute(text("SELECT 1"))

    # intake ---------------------------------------------------------------------------

    def expire_alerts(self) -> list[tuple[str | None, str]]:
        """Resolve the firing records not refreshed in time (agent/store/firing.py)."""
        return store_firing.expire(self._ops, expiry_s=self._intake.alert_expiry_s)

    def reconcile_alerts(
        self, *, firing: Collection[str], received_before: datetime
    ) -> list[tuple[str | None, str]]:
        """Resolve the firing records observability no longer reports (on start)."""
        return store_firing.reconcile(self._ops, firing=firing, received_before=received_before)

    @property
    def handover_s(self) -> float:
        """How long an escalated outage still firing absorbs new alerts (0: never)."""
        return self._intake.handover_s

    @handover_s.setter
    def handover_s(self, value: float) -> None:
        self._intake.handover_s = value

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
            {"fault": fault, "since": utcnow() - timedelta(seconds=within_s)},
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
        now = utcnow()
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
            write_event(
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
        sets, params = ["updated_at = :now"], {"id": incident_id, "now": utcnow()}
        for name, value in fields.items():
            if name in _JSON_FIELDS:
                sets.append(f"{name} = CAST(:{name} AS jsonb)")
                params[name] = as_json(value)
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
            event = write_event(session, incident_id, step, inputs, outputs)
            session.commit()
        return event

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
                        "params": as_json(params or {}),
                        "key": idempotency_key,
                        "run": run_id,
                        "status": status,
                        "dry": dry_run,
                        "now": utcnow(),
                        "fin": finished_at,
                        "detail": as_json(detail or {}),
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

    def recent_runs(self, action: str, target: str, within_s: float) -> list[ActionRecord]:
        """Real runs of `action` on `target` in the last `within_s` seconds, newest first
        (dry runs and refusals excluded), across incidents."""
        with self._ops.session() as session:
            rows = (
                session.execute(
                    text(
                        "SELECT * FROM agent_actions WHERE action = :a AND target = :t"
                        " AND NOT dry_run AND status <> ALL(:not_run) AND started_at >= :since"
                        " ORDER BY started_at DESC"
                    ),
                    {
                        "a": action,
                        "t": target,
                        "not_run": list(_NOT_RUN),
                        "since": utcnow() - timedelta(seconds=within_s),
                    },
                )
                .mappings()
                .all()
            )
        return [ActionRecord.model_validate(dict(r)) for r in rows]

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
