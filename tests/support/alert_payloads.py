"""Alerts as the agent's intake receives them: one alert on the wire and observability's
webhook body around it."""

from typing import Any

from observability.detector.alertmanager import fingerprint, rfc3339, webhook_payload

LABELS = {"alertname": "TargetDown", "service": "target", "severity": "critical"}


def wire(
    labels: dict[str, str] = LABELS, *, status: str = "firing", ts: float = 1.7e9
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": dict(labels),
        "annotations": {"summary": "target does not answer"},
        "startsAt": rfc3339(ts),
        "endsAt": rfc3339(ts + 60 if status == "resolved" else None),
        "generatorURL": "http://127.0.0.1:9100/alerts",
        "fingerprint": fingerprint(labels),
    }


def observability_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    """Exactly what observability's notifier posts."""
    return webhook_payload(
        list(alerts) or [wire()],
        receiver="agent",
        group_labels={"alertname": "TargetDown"},
        external_url="http://127.0.0.1:9100",
    )
