"""Perceive: read observability's alerts, snapshot and evidence into one Perception.

The agent's only eyes: observability's read-only HTTP API (never the chaos server or its
ledger). A down or slow observability is not an exception here: what could not be read is
listed in `Perception.errors`, and the features are computed from whatever was read.
"""

from datetime import UTC, datetime
from typing import Any

import httpx

from agent.features import extract_features
from agent.model import Perception

MAX_LOG_LINES = 40  # lines carried in Perception.log_lines (the newest)
MAX_TRACE_IDS = 20
RECENT_S = 30.0  # the short evidence window the features' trends come from


class ObservabilityClient:
    """A client of observability's query API (/alerts, /snapshot, /evidence)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _get(self, path: str, errors: list[str], **params: Any) -> Any:
        """GET `path` as JSON, or None with the reason appended to `errors`."""
        try:
            response = self._http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            errors.append(f"GET {path}: {type(exc).__name__}: {exc}")
            return None
        if response.status_code != 200:
            errors.append(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
            return None
        try:
            return response.json()
        except ValueError:
            errors.append(f"GET {path}: the body is not JSON")
            return None

    def perceive(self, window_s: float = 120.0) -> Perception:
        """Alerts, the latest snapshot and the evidence of the last `window_s` seconds (with
        the last RECENT_S seconds' evidence under `evidence["recent"]`)."""
        errors: list[str] = []
        alerts = self._get("/alerts", errors)
        snapshot = self._get("/snapshot", errors)
        evidence = self._get("/evidence", errors, since=max(1.0, window_s))
        recent = self._get("/evidence", errors, since=min(RECENT_S, max(1.0, window_s)))
        alerts = alerts if isinstance(alerts, list) else []
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        evidence = evidence if isinstance(evidence, dict) else {}
        if isinstance(recent, dict):
            evidence["recent"] = recent  # the features' trends: see agent.features
        return perception_of(alerts, snapshot, evidence, errors=errors)

    def firing(self) -> list[dict[str, Any]]:
        """The alerts firing now (an empty list when observability cannot be read)."""
        alerts = self._get("/alerts", [])
        if not isinstance(alerts, list):
            return []
        return [a for a in alerts if isinstance(a, dict) and a.get("status") == "firing"]

    def firing_fingerprints(self) -> set[str] | None:
        """Fingerprints of the alerts firing now; None when observability cannot be read."""
        alerts = self._get("/alerts", [])
        if not isinstance(alerts, list):
            return None
        return {
            str(a["fingerprint"])
            for a in alerts
            if isinstance(a, dict) and a.get("status") == "firing" and a.get("fingerprint")
        }

    def health(self, services: list[str]) -> dict[str, bool]:
        """Per service: running and its health probe passing in the latest snapshot.

        A service observability has no samples of (or an unreadable snapshot) is not healthy.
        """
        snapshot = self._get("/snapshot", [])
        known = snapshot.get("services", {}) if isinstance(snapshot, dict) else {}
        return {name: service_healthy(known.get(name)) for name in services}


def service_healthy(entry: dict[str, Any] | None) -> bool:
    """Whether one service's snapshot entry shows it up with its health probe passing."""
    if not isinstance(entry, dict):
        return False
    metrics = entry.get("metrics", {})
    up = metrics.get("service_up", 1.0)
    probe = metrics.get('probe_up{probe="health"}', 1.0)
    pg_up = metrics.get("pg_up", 1.0)
    return bool(up == 1.0 and probe == 1.0 and pg_up == 1.0 and metrics)


def perception_of(
    alerts: list[dict[str, Any]],
    snapshot: dict[str, Any],
    evidence: dict[str, Any],
    *,
    errors: list[str] | None = None,
    taken_at: datetime | None = None,
) -> Perception:
    """A Perception from observability's three documents (also used on recorded ones)."""
    lines: list[tuple[float, str]] = []
    trace_ids: list[tuple[float, str]] = []
    for name, entry in evidence.get("services", {}).items():
        for line in entry.get("log_lines", []):
            lines.append((float(line.get("ts", 0.0)), f"{name}: {line.get('line', '')}"))
        for marks in entry.get("traces", {}).values():
            trace_ids.extend((float(m.get("ts", 0.0)), str(m["trace_id"])) for m in marks)
    return Perception(
        taken_at=taken_at or datetime.now(UTC),
        alerts=alerts,
        snapshot=snapshot,
        evidence=evidence,
        features=extract_features(alerts, snapshot, evidence),
        trace_ids=list(dict.fromkeys(t for _, t in sorted(trace_ids)))[-MAX_TRACE_IDS:],
        log_lines=[text for _, text in sorted(lines)][-MAX_LOG_LINES:],
        errors=list(errors or []),
    )
