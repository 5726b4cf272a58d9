"""On start: resolve the alert episodes an earlier observability process left firing.

The detector keeps its alerts in memory; a restarted observability knows none of the
episodes its previous process sent as firing, so no resolved notification would ever follow
them and a receiver would hold them firing until they expire. They are in ops-db
(`obs_alerts`): each still recorded firing is sent resolved (endsAt: now) and recorded so.
If the fault is still there, the new process's detector fires a new episode of it.
"""

import logging
from typing import Any

from sqlalchemy import text

from observability.detector.alertmanager import rfc3339, webhook_payload
from observability.detector.detector import RECEIVER_NAME
from observability.detector.notifier import Notifier
from observability.store.ops_writer import OpsWriter

log = logging.getLogger("observability.detector")


def resolve_left_firing(
    *, writer: OpsWriter, notifier: Notifier | None, external_url: str, now: float
) -> int:
    """Send and record every episode left firing as resolved; how many there were."""
    with writer.store.session() as session:
        rows = session.execute(
            text(
                "SELECT fingerprint, starts_at, alertname, service, severity, summary, labels,"
                " annotations FROM obs_alerts WHERE status = 'firing' ORDER BY starts_at"
            )
        ).all()
    ends = rfc3339(now)
    for row in rows:
        starts = rfc3339(row.starts_at.timestamp())
        labels: dict[str, Any] = dict(row.labels)
        wire = {
            "status": "resolved",
            "labels": labels,
            "annotations": dict(row.annotations),
            "startsAt": starts,
            "endsAt": ends,
            "generatorURL": external_url,
            "fingerprint": row.fingerprint,
        }
        if notifier is not None:
            group = {"alertname": row.alertname, "service": row.service}
            notifier.send(
                webhook_payload(
                    [wire], receiver=RECEIVER_NAME, group_labels=group, external_url=external_url
                )
            )
        writer.record_alert(
            {
                "fingerprint": row.fingerprint,
                "alertname": row.alertname,
                "service": row.service,
                "severity": row.severity,
                "status": "resolved",
                "startsAt": starts,
                "endsAt": ends,
                "summary": row.summary,
                "labels": labels,
                "annotations": dict(row.annotations),
            }
        )
    if rows:
        log.info("resolved %d alert episode(s) left firing by an earlier process", len(rows))
    return len(rows)
