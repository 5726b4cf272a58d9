"""What the console reads from ops-db: every list is one page (LIMIT/OFFSET, one row more
to know whether there is a next page), every detail bounded; nothing unbounded."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import text

from agent.store.models import ActionRecord, AlertRecord, Event, Incident
from console.errors import NotFound, StoreUnavailable
from gameday.report.schema import RunReport
from gameday.store import Comparison, RunRow, compare, get_run, list_runs
from lab.ops_store import OpsStore

T = TypeVar("T")
TIMELINE_LIMIT = 500  # events of one incident shown (the newest are kept)
DETAIL_ROWS = 200  # alerts or actions of one incident


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, its number, whether more follow."""

    rows: list[T]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _page(rows: list[T], number: int, size: int) -> Page[T]:
    return Page(rows=rows[:size], number=number, has_next=len(rows) > size)


@dataclass(frozen=True)
class IncidentDetail:
    """One incident with its (bounded) timeline, alerts, actions and their run records."""

    incident: Incident
    timeline: list[Event]
    timeline_truncated: bool
    alerts: list[AlertRecord]
    actions: list[ActionRecord]
    runs: dict[str, dict[str, Any]]  # action-server run records by run id

    @property
    def evidence(self) -> dict[str, Any]:
        """What the agent saw when it diagnosed (features with trends, log lines, trace ids),
        else what the latest perception step recorded."""
        stored = self.incident.diagnosis.get("evidence")
        if isinstance(stored, dict):
            return stored
        for event in reversed(self.timeline):
            if event.step.startswith("perceive"):
                return event.outputs
        return {}

    @property
    def features(self) -> list[tuple[str, Any]]:
        """The evidence's features, ranked and bounded (ranked_features)."""
        found = self.evidence.get("features")
        return ranked_features(self.incident, found) if isinstance(found, dict) else []


FEATURES_SHOWN = 100


def ranked_features(incident: Incident, features: dict[str, Any]) -> list[tuple[str, Any]]:
    """The evidence's features, the telling ones first: derived signals (alerts, probes,
    Postgres, logs), then the incident's own service's metrics, then the rest; bounded."""
    own = f"metric:{incident.service}:"

    def rank(name: str) -> tuple[int, str]:
        return (0 if not name.startswith("metric:") else 1 if name.startswith(own) else 2, name)

    return [(name, features[name]) for name in sorted(features, key=rank)[:FEATURES_SHOWN]]


class History:
    """Read-only queries on ops-db for the console's pages."""

    def __init__(self, url: str) -> None:
        self.ops = OpsStore(url, application_name="breakfix-console", unavailable=StoreUnavailable)

    def dispose(self) -> None:
        self.ops.dispose()

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.ops.session() as session:
            return [dict(r) for r in session.execute(text(sql), params).mappings().all()]

    # incidents --------------------------------------------------------------------------

    def incidents(
        self, *, state: str | None, fault: str | None, page: int, size: int
    ) -> Page[dict[str, Any]]:
        """Incidents newest first (summary columns only), filtered by state and fault."""
        rows = self._rows(
            "SELECT id, state, title, service, fault, opened_at, detected_at, diagnosed_at,"
            " mitigated_at, closed_at, alert_count,"
            " diagnosis->'hypotheses'->0->>'fault' AS best_fault,"
            " diagnosis->'hypotheses'->0->>'confidence' AS confidence"
            " FROM agent_incidents"
            " WHERE (CAST(:state AS text) IS NULL OR state = :state)"
            " AND (CAST(:fault AS text) IS NULL OR fault = :fault"
            "      OR diagnosis->'hypotheses'->0->>'fault' = :fault)"
            " ORDER BY opened_at DESC, id DESC LIMIT :lim OFFSET :off",
            {"state": state, "fault": fault, "lim": size + 1, "off": (page - 1) * size},
        )
        return _page(rows, page, size)

    def incident(self, incident_id: str) -> IncidentDetail:
        """One incident's story; NotFound when there is none."""
        found = self._rows("SELECT * FROM agent_incidents WHERE id = :id", {"id": incident_id})
        if not found:
            raise NotFound(f"no incident {incident_id!r}")
        events = self._rows(
            "SELECT * FROM agent_incident_events WHERE incident_id = :id"
            " ORDER BY id DESC LIMIT :lim",
            {"id": incident_id, "lim": TIMELINE_LIMIT + 1},
        )
        alerts = self._rows(
            "SELECT * FROM agent_alerts WHERE incident_id = :id"
            " ORDER BY starts_at, fingerprint LIMIT :lim",
            {"id": incident_id, "lim": DETAIL_ROWS},
        )
        actions = [
            ActionRecord.model_validate(r)
            for r in self._rows(
                "SELECT * FROM agent_actions WHERE incident_id = :id ORDER BY id LIMIT :lim",
                {"id": incident_id, "lim": DETAIL_ROWS},
            )
        ]
        run_ids = [a.run_id for a in actions if a.run_id]
        runs = (
            {
                str(r["id"]): r
                for r in self._rows(
                    "SELECT id, action, status, summary, error, dry_run, started_at, finished_at,"
                    " duration_ms, changes FROM action_runs WHERE CAST(id AS text) = ANY(:ids)",
                    {"ids": run_ids},
                )
            }
            if run_ids
            else {}
        )
        return IncidentDetail(
            incident=Incident.model_validate(found[0]),
            timeline=[Event.model_validate(e) for e in reversed(events[:TIMELINE_LIMIT])],
            timeline_truncated=len(events) > TIMELINE_LIMIT,
            alerts=[AlertRecord.model_validate(a) for a in alerts],
            actions=actions,
            runs=runs,
        )

    # audit ----------------------------------------------------------------------------

    def audit(
        self, *, outcome: str | None, action: str | None, page: int, size: int
    ) -> Page[dict[str, Any]]:
        """The action server's audit rows newest first (refusals included), with the run's
        status when the request ran one."""
        rows = self._rows(
            "SELECT a.id, a.ts, a.key_id, a.method, a.path, a.action, a.dry_run, a.outcome,"
            " a.status_code, a.error_code, a.run_id, a.duration_ms, a.correlation_id,"
            " r.status AS run_status, r.summary AS run_summary"
            " FROM audit_log a LEFT JOIN action_runs r ON r.id = a.run_id"
            " WHERE (CAST(:outcome AS text) IS NULL OR a.outcome = :outcome)"
            " AND (CAST(:action AS text) IS NULL OR a.action = :action)"
            " ORDER BY a.id DESC LIMIT :lim OFFSET :off",
            {"outcome": outcome, "action": action, "lim": size + 1, "off": (page - 1) * size},
        )
        return _page(rows, page, size)

    def console_actions(self, *, actor: str | None, page: int, size: int) -> Page[dict[str, Any]]:
        """What was done from the console, newest first."""
        rows = self._rows(
            "SELECT * FROM console_actions WHERE (CAST(:actor AS text) IS NULL OR actor = :actor)"
            " ORDER BY at DESC, id DESC LIMIT :lim OFFSET :off",
            {"actor": actor, "lim": size + 1, "off": (page - 1) * size},
        )
        return _page(rows, page, size)

    def record(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str | None,
        params: str,
        outcome: str,
        status_code: int | None,
        detail: str | None,
    ) -> None:
        """One console action, with who did it and how it ended."""
        with self.ops.session() as session:
            session.execute(
                text(
                    "INSERT INTO console_actions (actor, role, action, target, params, outcome,"
                    " status_code, detail) VALUES (:actor, :role, :action, :target,"
                    " CAST(:params AS jsonb), :outcome, :status, :detail)"
                ),
                {
                    "actor": actor,
                    "role": role,
                    "action": action,
                    "target": target,
                    "params": params,
                    "outcome": outcome,
                    "status": status_code,
                    "detail": detail,
                },
            )
            session.commit()

    # game days ------------------------------------------------------------------------

    def gamedays(self, *, page: int, size: int) -> Page[RunRow]:
        """Game day runs newest first (the game day's own listing, one page of it)."""
        with self.ops.session() as session:
            rows = list_runs(session=session, limit=page * size + 1)
        return _page(rows[(page - 1) * size :], page, size)

    def gameday(self, run_id: str) -> RunReport:
        """One stored run; NotFound when there is none."""
        with self.ops.session() as session:
            report = get_run(session=session, run_id=run_id)
        if report is None:
            raise NotFound(f"no game day run {run_id!r}")
        return report

    def compare(self, before: str, after: str) -> Comparison:
        """What changed from one run to another."""
        return compare(before=self.gameday(before), after=self.gameday(after))


def when(value: datetime | None) -> str:
    """A time as the pages show it (UTC, to the second)."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
