"""Recording lab events in ops-db; a failing recorder never stops the lab."""

import asyncio
import json
import logging
from typing import Any

import psycopg2

log = logging.getLogger("breakfix.events")


class EventRecorder:
    """Writes rows to ops-db's `events` table once ops-db is provisioned."""

    def __init__(self, *, source: str) -> None:
        self.source = source
        self.dsn: str | None = None
        self.failures = 0
        self._failing = False

    def connect_to(self, dsn: str) -> None:
        """Start writing to ops-db (a libpq URL, password included)."""
        self.dsn = dsn.replace("postgresql+psycopg2://", "postgresql://")

    async def record(
        self, *, kind: str, message: str, service: str | None = None, **data: Any
    ) -> None:
        """Log the event and store it; storage errors are counted, not raised."""
        log.info("%s%s", f"[{service}] " if service else "", message)
        if self.dsn is None:
            return
        try:
            await asyncio.to_thread(self._insert, kind, message, service, data)
        except psycopg2.Error as exc:
            self.failures += 1
            if not self._failing:  # once per outage; the count keeps every failure
                log.warning(
                    "events not stored while ops-db is unreachable (%s)", type(exc).__name__
                )
            self._failing = True
        else:
            if self._failing:
                log.info("ops-db reachable again; %d events were not stored", self.failures)
            self._failing = False

    def _insert(self, kind: str, message: str, service: str | None, data: dict[str, Any]) -> None:
        assert self.dsn is not None
        conn = psycopg2.connect(self.dsn, connect_timeout=2, application_name="breakfix-lab")
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO events (source, service, kind, message, data) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (self.source, service, kind, message, json.dumps(data)),
                )
        finally:
            conn.close()

    def register_services(self, rows: list[dict[str, Any]]) -> None:
        """Upsert the service registry (blocking; call from a thread)."""
        if self.dsn is None:
            return
        conn = psycopg2.connect(self.dsn, connect_timeout=2, application_name="breakfix-lab")
        try:
            with conn, conn.cursor() as cur:
                for row in rows:
                    cur.execute(
                        "INSERT INTO services (name, kind, port, url, restart_policy, depends_on)"
                        " VALUES (%(name)s, %(kind)s, %(port)s, %(url)s, %(restart_policy)s,"
                        " %(depends_on)s) ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind,"
                        " port = EXCLUDED.port, url = EXCLUDED.url,"
                        " restart_policy = EXCLUDED.restart_policy,"
                        " depends_on = EXCLUDED.depends_on, updated_at = now()",
                        {**row, "depends_on": json.dumps(row["depends_on"])},
                    )
        finally:
            conn.close()
