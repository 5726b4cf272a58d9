"""The Prometheus Alertmanager webhook format (version 4), as Alertmanager itself sends it.

Fingerprints are Alertmanager's: FNV-1a 64 over the sorted label names and values, each
followed by the 0xff separator byte, printed as 16 hex digits. A group here is one alert
(grouped by all of its identifying labels), so a receiver sees one alert per notification.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

WEBHOOK_VERSION = "4"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: the endsAt of a firing alert
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, 2**64 - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: 16 lowercase hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def rfc3339(ts: float | None) -> str:
    """A Unix time as Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped)."""
    if ts is None:
        return ZERO_TIME
    moment = datetime.fromtimestamp(ts, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def label_set(labels: Mapping[str, str]) -> str:
    """A label set as Alertmanager prints it: {a="1", b="2"}."""
    inner = ", ".join(f"{k}={_quote(labels[k])}" for k in sorted(labels))
    return "{" + inner + "}"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_payload(
    alerts: Sequence[Mapping[str, Any]],
    *,
    receiver: str,
    group_labels: Mapping[str, str],
    external_url: str,
) -> dict[str, Any]:
    """One notification for a group of alerts in the webhook format (`alerts` already in
    their wire form, see AlertState.wire)."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "receiver": receiver,
        "status": status,
        "alerts": list(alerts),
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "version": WEBHOOK_VERSION,
        "groupKey": f"{{}}:{label_set(group_labels)}",
        "truncatedAlerts": 0,
    }
