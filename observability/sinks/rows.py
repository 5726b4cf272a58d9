"""Rows for the mirrored tables: one alert episode per row, one lab or chaos event per row."""

import math
from typing import Any

# Upsert keys: a retried batch or a restarted observability rewrites the same rows.
ALERT_KEY = ("fingerprint", "starts_at")
EVENT_KEY = ("source", "source_id")


def alert_row(record: dict[str, Any]) -> dict[str, Any]:
    """An alert record (`AlertState.record()`) as a row: firing inserts, resolved updates."""
    value = record.get("value")
    return {
        "fingerprint": record["fingerprint"],
        "starts_at": record["startsAt"],
        "ends_at": record.get("endsAt"),
        "alertname": record["alertname"],
        "service": record["service"],
        "severity": record["severity"],
        "status": record["status"],
        "summary": record.get("summary", ""),
        "description": record.get("description", ""),
        "labels": dict(record.get("labels", {})),
        # JSON has no NaN or infinity
        "value": float(value) if value is not None and math.isfinite(value) else None,
    }


def latest_per_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key, the last one given: an upsert may not touch a row twice."""
    latest = {tuple(row[k] for k in key): row for row in rows}
    return list(latest.values())
