"""The detector as observability runs it: evaluate, track, notify, and show the alerts."""

import threading
from pathlib import Path
from typing import Any

from observability.detector.alertmanager import webhook_payload
from observability.detector.evaluate import Evaluator
from observability.detector.notifier import Notifier, Receiver
from observability.detector.rules import RuleFile
from observability.detector.state import AlertState, AlertTracker
from observability.model import Sample
from observability.store.ring import RingStore

RECEIVER_NAME = "breakfix"


def receivers_from(
    urls: list[str], token_file: Path | None = None, timeout_s: float = 5.0
) -> list[Receiver]:
    """Receivers for the configured URLs, all with the token file's bearer token if given."""
    token = token_file.read_text().strip() if token_file is not None else None
    return [Receiver(url=u, bearer_token=token or None, timeout_s=timeout_s) for u in urls]


class Detector:
    """Rules over the recent window; transitions go to the notifier as webhook payloads.

    `evaluate` is called once per interval with the time to judge at; it never waits for a
    receiver. `records` is safe to call from other threads.
    """

    def __init__(
        self,
        *,
        rules: RuleFile,
        store: RingStore,
        notifier: Notifier | None = None,
        external_url: str = "",
        repeat_interval_s: float | None = None,
    ) -> None:
        self.store, self.notifier, self.external_url = store, notifier, external_url
        self.evaluator = Evaluator(rules)
        self.tracker = AlertTracker(
            external_url=external_url,
            no_data_resolve_s=rules.no_data_resolve_s,
            repeat_interval_s=repeat_interval_s,
            keep_firing_for_s=rules.keep_firing_for_s,
        )
        self._lock = threading.Lock()

    def evaluate(self, now: float) -> list[AlertState]:
        """Judge every rule at `now`; the alerts that fired or resolved (sent if a notifier)."""
        findings = self.evaluator.evaluate(self.store, now)
        with self._lock:
            changed = self.tracker.update(findings, now)
        if self.notifier is not None:
            for alert in changed:
                self.notifier.send(self.payload(alert))
        return changed

    def payload(self, alert: AlertState) -> dict[str, Any]:
        """The webhook notification for one alert."""
        return webhook_payload(
            [alert.wire()],
            receiver=RECEIVER_NAME,
            group_labels=alert.group_labels,
            external_url=self.external_url,
        )

    def records(self) -> list[dict[str, Any]]:
        """Firing alerts, then recently resolved ones, as plain dicts."""
        with self._lock:
            return self.tracker.records()

    def samples(self, now: float) -> list[Sample]:
        """Firing alerts by severity, and delivery counts, as `observability` samples."""
        with self._lock:
            firing = [a for a in self.tracker.active() if a.status == "firing"]
        out = [
            Sample(
                now,
                "observability",
                "alerts_firing",
                float(sum(1 for a in firing if a.labels["severity"] == sev)),
                (("severity", sev),),
            )
            for sev in ("critical", "warning", "info")
        ]
        return out + (self.notifier.samples(now) if self.notifier is not None else [])
