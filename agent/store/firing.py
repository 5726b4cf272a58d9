"""Firing alert records that expire, the way Alertmanager's do, and a reconcile on start.

A firing record is firing until its resolved notification arrives, or until it is not
refreshed in time: by its endsAt when the sender gave one, else `alert_expiry_s` after its
last copy (observability re-sends a firing alert every OBS_REPEAT_INTERVAL_S). On start the
agent also resolves what observability no longer reports firing, so nothing a stopped lab
left behind holds an escalated outage open.
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import text

from agent.store.events import utcnow, write_event
from lab.ops_store import OpsStore

# Alertmanager's default resolve_timeout is 5 min too.
ALERT_EXPIRY_S = 300.0
# An alert record is firing while this holds (`a`: agent_alerts; binds :now and :expiry).
FIRING = (
    "a.status = 'firing' AND COALESCE(a.ends_at,"
    " a.last_received + make_interval(secs => :expiry)) > :now"
)


def expire(ops: OpsStore, *, expiry_s: float) -> list[tuple[str | None, str]]:
    """Resolve the firing records not refreshed in time; (incident, alertname) of each."""
    return _resolve(
        ops,
        "NOT (" + FIRING + ")",
        {"expiry": expiry_s},
        step="alert_expired",
        why={"expiry_s": expiry_s},
    )


def reconcile(
    ops: OpsStore, *, firing: Collection[str], received_before: datetime
) -> list[tuple[str | None, str]]:
    """Resolve the firing records last received before `received_before` whose fingerprint
    is not in `firing` (what observability reports firing now); (incident, alertname)."""
    return _resolve(
        ops,
        "a.last_received < :before AND NOT (a.fingerprint = ANY(:firing))",
        {"before": received_before, "firing": list(firing)},
        step="alert_reconciled",
        why={"reason": "not firing at observability"},
    )


def _resolve(
    ops: OpsStore, where: str, params: dict[str, Any], *, step: str, why: dict[str, Any]
) -> list[tuple[str | None, str]]:
    """Mark the firing records matching `where` resolved, an event on each one's incident."""
    with ops.session() as session:
        rows = session.execute(
            text(
                "UPDATE agent_alerts a SET status = 'resolved', resolved_at = :now"
                " WHERE a.status = 'firing' AND " + where + " RETURNING a.incident_id,"
                " a.alertname, a.fingerprint, a.starts_at, a.last_received"
            ),
            {"now": utcnow(), **params},
        ).all()
        for row in rows:
            if row.incident_id is not None:
                write_event(
                    session,
                    row.incident_id,
                    step,
                    {"fingerprint": row.fingerprint, "starts_at": row.starts_at.isoformat()},
                    {
                        "alertname": row.alertname,
                        "last_received": row.last_received.isoformat(),
                        **why,
                    },
                )
        session.commit()
    return [(r.incident_id, str(r.alertname)) for r in rows]
