"""Repeats of alerts already recorded, counted for a whole transaction of the intake at once.

A repeat (the same fingerprint and startsAt, the same status) only adds its copies to its
alert's row. The intake (agent/store/intake.py) counts the repeats of every call it writes
together in one statement, whatever their number, and correlates only what is left.
"""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.model import Alert
from agent.store.models import IntakeResult

Key = tuple[str, datetime]  # an alert's identity: (fingerprint, startsAt)
Keyed = dict[Key, tuple[Alert, int]]  # one call's alerts with their number of copies

# Every repeat of a transaction's calls counted at once: `v` holds one row per (key, status)
# with its copies (n) and the last copy's endsAt; the rows are locked in key order first.
_COUNT_REPEATS = (
    "WITH v AS MATERIALIZED (SELECT * FROM unnest(CAST(:fps AS text[]),"
    " CAST(:sas AS timestamptz[]), CAST(:statuses AS text[]), CAST(:ns AS integer[]),"
    " CAST(:ends AS timestamptz[])) WITH ORDINALITY AS v(fp, sa, status, n, ends, i)),"
    " locked AS MATERIALIZED (SELECT a.fingerprint, a.starts_at FROM agent_alerts a JOIN v"
    "  ON a.fingerprint = v.fp AND a.starts_at = v.sa AND a.status = v.status"
    "  ORDER BY a.fingerprint, a.starts_at FOR UPDATE OF a)"
    " UPDATE agent_alerts a SET received_count = a.received_count + v.n,"
    " last_received = :now, ends_at = CASE WHEN a.status = 'firing' THEN v.ends ELSE a.ends_at"
    " END FROM v WHERE a.fingerprint = v.fp AND a.starts_at = v.sa AND a.status = v.status"
    " AND (a.fingerprint, a.starts_at) IN (SELECT fingerprint, starts_at FROM locked)"
    " RETURNING v.i"
)


def keyed(alerts: list[Alert], now: datetime) -> Keyed:
    """One call's alerts by (fingerprint, startsAt), with their number of copies."""
    batch: Keyed = {}
    for alert in alerts:
        key = (alert.fingerprint, alert.starts_at or now)
        seen = batch.get(key)
        # the resolved copy wins over a firing one in the same payload
        chosen = alert if seen is None or alert.status == "resolved" else seen[0]
        batch[key] = (chosen, 1 if seen is None else seen[1] + 1)
    return batch


def count_repeats(
    session: Session,
    keyed: list[Keyed],
    results: list[IntakeResult],
    now: datetime,
) -> list[list[Key]]:
    """Pure repeats (same key, same status) of every job counted in one statement,
    without the intake lock, rows locked in key order; the keys left, per job."""
    totals: dict[tuple[Key, str], tuple[int, datetime | None]] = {}
    for batch in keyed:
        for key, (alert, n) in batch.items():
            seen = totals.get((key, alert.status), (0, None))
            totals[(key, alert.status)] = (seen[0] + n, alert.ends_at)  # the last copy's
    ordered = sorted(totals)
    matched: set[tuple[Key, str]] = set()
    if ordered:
        counted = session.execute(
            text(_COUNT_REPEATS),
            {
                "fps": [k[0][0] for k in ordered],
                "sas": [k[0][1] for k in ordered],
                "statuses": [k[1] for k in ordered],
                "ns": [totals[k][0] for k in ordered],
                "ends": [totals[k][1] for k in ordered],
                "now": now,
            },
        ).scalars()
        matched = {ordered[i - 1] for i in counted}
    pending: list[list[Key]] = []
    for batch, result in zip(keyed, results, strict=True):
        left = []
        for key, (alert, n) in batch.items():
            if (key, alert.status) in matched:
                result.duplicates += n
            else:
                left.append(key)
        pending.append(left)
    return pending


def recorded(session: Session, keys: list[Key]) -> set[Key]:
    """Which of `keys` have an alert row already."""
    if not keys:
        return set()
    found = session.execute(
        text(
            "SELECT v.i FROM unnest(CAST(:fps AS text[]), CAST(:sas AS timestamptz[]))"
            " WITH ORDINALITY AS v(fp, sa, i) WHERE EXISTS (SELECT 1 FROM agent_alerts a"
            " WHERE a.fingerprint = v.fp AND a.starts_at = v.sa)"
        ),
        {"fps": [k[0] for k in keys], "sas": [k[1] for k in keys]},
    ).scalars()
    return {keys[i - 1] for i in found}
