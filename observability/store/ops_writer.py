"""The longer run in ops-db: samples downsampled into buckets, log excerpts, alert records."""

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from lab.ops_store import OpsStore
from observability.store.ring import RingStore

log = logging.getLogger("observability.store")


class StoreUnavailable(Exception):
    """ops-db cannot be reached; collection goes on in memory."""


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class OpsWriter:
    """Writes completed buckets of the ring to ops-db; nothing is written twice."""

    def __init__(
        self, database_url: str, ring: RingStore, *, downsample_s: float, retention_h: float
    ) -> None:
        self.store = OpsStore(
            database_url, application_name="breakfix-observability", unavailable=StoreUnavailable
        )
        self.ring, self.downsample_s, self.retention_h = ring, downsample_s, retention_h
        self._flushed_until: float | None = None
        self._logs_until: float = 0.0

    def flush(self, now: float) -> int:
        """Write every bucket that ended by `now` and the log lines since the last flush."""
        until = math.floor(now / self.downsample_s) * self.downsample_s
        since = self._flushed_until if self._flushed_until is not None else until - self.window()
        rows: list[dict[str, Any]] = []
        if until > since:
            for (service, metric, labels), points in self.ring.between(since, until).items():
                buckets: dict[float, list[float]] = {}
                for sample in points:
                    start = math.floor(sample.ts / self.downsample_s) * self.downsample_s
                    buckets.setdefault(start, []).append(sample.value)
                for start, values in buckets.items():
                    rows.append(
                        {
                            "bucket": _dt(start),
                            "service": service,
                            "metric": metric,
                            "labels": json.dumps(dict(labels)),
                            "count": len(values),
                            "avg": sum(values) / len(values),
                            "min": min(values),
                            "max": max(values),
                            "last": values[-1],
                        }
                    )
        lines = [line for line in self.ring.logs(since=self._logs_until) if line.ts <= now]
        with self.store.session() as session:
            if rows:
                session.execute(
                    text(
                        "INSERT INTO obs_samples (bucket, service, metric, labels, count, avg,"
                        " min, max, last) VALUES (:bucket, :service, :metric,"
                        " CAST(:labels AS jsonb), :count, :avg, :min, :max, :last)"
                    ),
                    rows,
                )
            if lines:
                session.execute(
                    text(
                        "INSERT INTO obs_log_excerpts (ts, service, signature, line)"
                        " VALUES (:ts, :service, :signature, :line)"
                    ),
                    [
                        {
                            "ts": _dt(x.ts),
                            "service": x.service,
                            "signature": x.signature,
                            "line": x.line[:4000],
                        }
                        for x in lines
                    ],
                )
            session.commit()
        self._flushed_until = max(until, since)
        if lines:
            self._logs_until = max(x.ts for x in lines)
        return len(rows)

    def history(
        self, metric: str, *, service: str | None, since: float, until: float
    ) -> list[dict[str, Any]]:
        """Bucket averages of `metric` from ops-db between `since` and `until`."""
        query = (
            "SELECT bucket, service, labels, avg FROM obs_samples WHERE metric = :metric"
            " AND bucket >= :since AND bucket < :until"
        )
        params: dict[str, Any] = {"metric": metric, "since": _dt(since), "until": _dt(until)}
        if service is not None:
            query += " AND service = :service"
            params["service"] = service
        with self.store.session() as session:
            rows = session.execute(text(query + " ORDER BY bucket"), params).all()
        return [
            {"ts": r.bucket.timestamp(), "service": r.service, "labels": r.labels, "value": r.avg}
            for r in rows
        ]

    def window(self) -> float:
        return self.ring.window_s

    def record_alert(self, alert: dict[str, Any]) -> None:
        """Insert or update one alert episode (fingerprint + startsAt)."""
        with self.store.session() as session:
            session.execute(
                text(
                    "INSERT INTO obs_alerts (fingerprint, starts_at, ends_at, alertname, service,"
                    " severity, status, summary, labels, annotations) VALUES (:fingerprint,"
                    " :starts_at, :ends_at, :alertname, :service, :severity, :status, :summary,"
                    " CAST(:labels AS jsonb), CAST(:annotations AS jsonb))"
                    " ON CONFLICT (fingerprint, starts_at) DO UPDATE SET ends_at = :ends_at,"
                    " status = :status, summary = :summary,"
                    " annotations = CAST(:annotations AS jsonb)"
                ),
                {
                    "fingerprint": alert["fingerprint"],
                    "starts_at": alert["startsAt"],
                    "ends_at": alert.get("endsAt"),
                    "alertname": alert["alertname"],
                    "service": alert["service"],
                    "severity": alert["severity"],
                    "status": alert["status"],
                    "summary": alert.get("summary", ""),
                    "labels": json.dumps(alert.get("labels", {})),
                    "annotations": json.dumps(alert.get("annotations", {})),
                },
            )
            session.commit()

    def prune(self, now: float) -> None:
        """Delete rows older than the retention."""
        horizon = _dt(now) - timedelta(hours=self.retention_h)
        with self.store.session() as session:
            session.execute(text("DELETE FROM obs_samples WHERE bucket < :h"), {"h": horizon})
            session.execute(text("DELETE FROM obs_log_excerpts WHERE ts < :h"), {"h": horizon})
            session.execute(
                text("DELETE FROM obs_alerts WHERE status = 'resolved' AND ends_at < :h"),
                {"h": horizon},
            )
            session.commit()

    def dispose(self) -> None:
        self.store.dispose()
