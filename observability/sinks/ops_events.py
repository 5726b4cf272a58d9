"""New rows of ops-db's `chaos_events` and `events`, read to be mirrored out of the lab.

Observability never uses chaos events for detection: like the agent, it has to find a fault
from signals alone. Mirroring them to an outside sink, next to the alerts they caused, is
for the people reading dashboards there, and feeds nothing back.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from lab.ops_store import OpsStore

_QUERIES = {
    "chaos_events": (
        "SELECT id, ts, kind, target AS service, 'chaos' AS origin, fault_id, correlation_id,"
        " message, data FROM chaos_events WHERE id > :after AND ts >= :since ORDER BY id"
        " LIMIT :limit"
    ),
    "events": (
        "SELECT id, ts, kind, service, source AS origin, NULL AS fault_id,"
        " NULL AS correlation_id, message, data FROM events WHERE id > :after"
        " AND ts >= :since ORDER BY id LIMIT :limit"
    ),
}


class OpsEventsReader:
    """Reads each table past the last id it returned, from `since` (Unix seconds) on."""

    def __init__(self, store: OpsStore, *, since: float) -> None:
        self.store, self.since = store, datetime.fromtimestamp(since, UTC)
        self.after = dict.fromkeys(_QUERIES, 0)

    def read(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` new rows per table as event rows; the cursor moves past them."""
        out: list[dict[str, Any]] = []
        with self.store.session() as session:
            for table, query in _QUERIES.items():
                params = {"after": self.after[table], "since": self.since, "limit": limit}
                rows = session.execute(text(query), params).mappings().all()
                out.extend(
                    {
                        "source": table,
                        "source_id": row["id"],
                        "ts": row["ts"].isoformat(),
                        "kind": row["kind"],
                        "service": row["service"],
                        "origin": row["origin"],
                        "fault_id": row["fault_id"],
                        "correlation_id": row["correlation_id"],
                        "message": row["message"],
                        "data": row["data"] or {},
                    }
                    for row in rows
                )
                if rows:
                    self.after[table] = rows[-1]["id"]
        return out
