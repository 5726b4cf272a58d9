"""Alert state per rule and series: pending, firing (after `for_s`), resolved.

One firing notification per episode (plus an optional repeat), one resolved notification
when it clears. No data never fires anything: a pending alert without data starts over,
a firing one resolves only after `no_data_resolve_s` without data (a collector that
stopped is not a fix).
"""

import copy
import math
import string
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from observability.detector.alertmanager import fingerprint, rfc3339
from observability.detector.evaluate import Finding
from observability.detector.rules import Rule

Key = tuple[str, str, tuple[tuple[str, str], ...]]


class _Labels(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, rule: Rule, finding: Finding) -> str:
    """A summary or description with the finding's values; a broken format is kept raw."""
    fields: dict[str, Any] = {
        "service": finding.service,
        "value": math.nan if finding.value is None else finding.value,
        "for_s": rule.for_s,
        "labels": _Labels(finding.labels),
        **dict.fromkeys(("threshold", "window_s", "k", "n", "baseline"), math.nan),
        **finding.context,
    }
    try:
        return string.Formatter().vformat(template, (), fields)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return template


@dataclass
class AlertState:
    """One alert instance and where it is in its episode."""

    labels: dict[str, str]
    annotations: dict[str, str]
    status: str  # pending | firing | resolved
    active_since: float
    generator_url: str
    group_labels: dict[str, str]
    value: float | None = None
    starts_at: float | None = None
    ends_at: float | None = None
    no_data_since: float | None = None
    inactive_since: float | None = None  # firing, but its rule has not held since then
    last_sent: float | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def wire(self) -> dict[str, Any]:
        """The alert as an Alertmanager webhook carries it."""
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(self.ends_at),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }

    def record(self) -> dict[str, Any]:
        """A plain dict to persist and show (ops-db, the API)."""
        return {
            "fingerprint": self.fingerprint,
            "alertname": self.labels["alertname"],
            "service": self.labels["service"],
            "severity": self.labels["severity"],
            "status": self.status,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": None if self.ends_at is None else rfc3339(self.ends_at),
            "summary": self.annotations.get("summary", ""),
            "description": self.annotations.get("description", ""),
            "labels": dict(self.labels),
            "value": self.value,
        }


class AlertTracker:
    """Turns each evaluation's findings into alert transitions to notify."""

    def __init__(
        self,
        *,
        external_url: str = "",
        no_data_resolve_s: float = 30.0,
        repeat_interval_s: float | None = None,
        keep_firing_for_s: float = 0.0,
        keep_resolved: int = 500,
    ) -> None:
        self.external_url = external_url.rstrip("/")
        self.no_data_resolve_s, self.repeat_interval_s = no_data_resolve_s, repeat_interval_s
        # Like Prometheus's keep_firing_for: a firing alert whose rule stops holding resolves
        # only after this long, so a signal swinging around its threshold (per-second p99 of
        # thin traffic) is one episode, not a firing/resolved notification every few seconds.
        self.keep_firing_for_s = keep_firing_for_s
        self._alerts: dict[Key, AlertState] = {}
        self.resolved: deque[AlertState] = deque(maxlen=keep_resolved)

    def update(self, findings: Iterable[Finding], now: float) -> list[AlertState]:
        """Apply one evaluation; the alerts to notify now (copies, firing or resolved)."""
        out: list[AlertState] = []
        seen: set[Key] = set()
        for f in findings:
            key = (f.rule.name, f.service, f.labels)
            seen.add(key)
            self._step(key, f, now, out)
        for key in [k for k in self._alerts if k not in seen]:
            self._no_data(key, now, out)  # the series is gone from the store altogether
        return out

    def _step(self, key: Key, f: Finding, now: float, out: list[AlertState]) -> None:
        alert = self._alerts.get(key)
        if f.active is None:
            self._no_data(key, now, out)
            return
        if not f.active:
            if alert is not None and alert.status == "firing":
                if alert.inactive_since is None:
                    alert.inactive_since = now
                if now - alert.inactive_since >= self.keep_firing_for_s:
                    self._resolve(key, now, out)
            else:
                self._alerts.pop(key, None)
            return
        if alert is None:
            alert = self._alerts[key] = self._new(f, now)
        alert.no_data_since, alert.inactive_since, alert.value = None, None, f.value
        if alert.status == "pending" and now - alert.active_since >= f.rule.for_s:
            alert.status, alert.starts_at = "firing", now
            alert.annotations = self._annotations(f)
            self._send(alert, now, out)
        elif alert.status == "firing" and self.repeat_interval_s is not None:
            if alert.last_sent is not None and now - alert.last_sent >= self.repeat_interval_s:
                self._send(alert, now, out)

    def _no_data(self, key: Key, now: float, out: list[AlertState]) -> None:
        alert = self._alerts.get(key)
        if alert is None:
            return
        if alert.status != "firing":
            del self._alerts[key]
            return
        if alert.no_data_since is None:
            alert.no_data_since = now
        if now - alert.no_data_since >= self.no_data_resolve_s:
            self._resolve(key, now, out)

    def _resolve(self, key: Key, now: float, out: list[AlertState]) -> None:
        alert = self._alerts.pop(key)
        alert.status, alert.ends_at = "resolved", now
        self.resolved.append(alert)
        self._send(alert, now, out)

    def _send(self, alert: AlertState, now: float, out: list[AlertState]) -> None:
        alert.last_sent = now
        out.append(copy.deepcopy(alert))

    def _annotations(self, f: Finding) -> dict[str, str]:
        notes = {"summary": render(f.rule.summary, f.rule, f)}
        if f.rule.description:
            notes["description"] = render(f.rule.description, f.rule, f)
        return notes

    def _new(self, f: Finding, now: float) -> AlertState:
        labels = {**f.rule.labels, **dict(f.labels)}
        labels.update(alertname=f.rule.name, service=f.service, severity=f.rule.severity)
        query = urlencode({"metric": f.rule.metric, "service": f.service})
        return AlertState(
            labels=labels,
            annotations=self._annotations(f),
            status="pending",
            active_since=now,
            generator_url=f"{self.external_url}/series?{query}",
            group_labels={"alertname": f.rule.name, "service": f.service, **dict(f.labels)},
            value=f.value,
        )

    def active(self) -> list[AlertState]:
        """Pending and firing alerts, as copies."""
        return [copy.deepcopy(a) for a in self._alerts.values()]

    def records(self) -> list[dict[str, Any]]:
        """Firing alerts, then the resolved ones newest first, in their plain dict form."""
        firing = [a.record() for a in self._alerts.values() if a.status == "firing"]
        return firing + [a.record() for a in reversed(self.resolved)]
