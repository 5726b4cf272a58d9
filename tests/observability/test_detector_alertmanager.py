"""Our webhook payload against the format, and against what the real Alertmanager sends."""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.ports import free_port
from observability.detector.alertmanager import fingerprint, label_set, rfc3339, webhook_payload
from observability.detector.detector import Detector
from observability.model import Collection, Sample
from observability.store.ring import RingStore
from tests.support.rule_sets import target_down
from tests.support.system_binaries import require_binary
from tests.support.webhook_receiver import Receiving

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
LABELS = {"alertname": "TargetDown", "service": "target", "severity": "critical"}


def our_alert(status_up: list[float]) -> list[dict[str, Any]]:
    """The payloads our detector sends for a target going down (and back up)."""
    store = RingStore()
    rules = target_down(description="service_up={value:.0f}")
    det = Detector(rules=rules, store=store, external_url="http://127.0.0.1:9100")
    out = []
    for t, up in enumerate(status_up):
        store.add(Collection(samples=[Sample(1_763_720_000.0 + t, "target", "service_up", up)]))
        out += [det.payload(a) for a in det.evaluate(1_763_720_000.25 + t)]
    return out


def test_payload_has_every_field_of_the_webhook_format() -> None:
    firing, resolved = our_alert([0, 1])
    assert set(firing) == {
        "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
        "commonLabels", "commonAnnotations", "externalURL", "alerts",
    }  # fmt: skip
    assert firing["version"] == "4" and firing["truncatedAlerts"] == 0
    alert = firing["alerts"][0]
    assert set(alert) == {
        "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"
    }  # fmt: skip
    assert alert["labels"] == LABELS
    assert alert["annotations"] == {"summary": "target down", "description": "service_up=0"}
    assert alert["startsAt"] == "2025-11-21T10:13:20.25Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2025-11-21T10:13:21.25Z"
    assert resolved["alerts"][0]["startsAt"] == alert["startsAt"]


def test_fingerprint_is_stable_and_label_order_free() -> None:
    a = fingerprint({"b": "2", "a": "1"})
    assert a == fingerprint({"a": "1", "b": "2"})
    assert a != fingerprint({"a": "1", "b": "3"}) and len(a) == 16
    int(a, 16)


def test_helpers_format_like_alertmanager() -> None:
    assert rfc3339(None) == "0001-01-01T00:00:00Z"
    assert rfc3339(0.0) == "1970-01-01T00:00:00Z"
    assert label_set({"service": "t", "alertname": 'a"b'}) == '{alertname="a\\"b", service="t"}'
    payload = webhook_payload([], receiver="r", group_labels={}, external_url="")
    assert payload["groupKey"] == "{}:{}" and payload["commonLabels"] == {}


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Receiving]]:
    """The real Alertmanager on a free loopback port, routing to a receiver of ours."""
    require_binary(ALERTMANAGER, package="prometheus-alertmanager")
    receiver = Receiving()
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "breakfix",
                    "group_by": ["alertname", "service"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "breakfix",
                        "webhook_configs": [{"url": receiver.url, "send_resolved": True}],
                    }
                ],
            }
        )
    )
    log = (tmp_path / "am.log").open("wb")
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "am.log").read_text())
            time.sleep(0.1)
        yield url, receiver
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
        receiver.close()


def wait_for(receiver: Receiving, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while len(receiver.bodies) < count:
        assert time.monotonic() < deadline, f"alertmanager delivered {receiver.bodies}"
        time.sleep(0.1)
    return receiver.bodies


@pytest.mark.slow
def test_our_payload_matches_what_the_real_alertmanager_delivers(
    alertmanager: tuple[str, Receiving],
) -> None:
    url, receiver = alertmanager
    ours_firing, ours_resolved = our_alert([0, 1])
    alert = ours_firing["alerts"][0]
    pushed = {
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "startsAt": alert["startsAt"],
        "generatorURL": alert["generatorURL"],
    }
    assert httpx.post(f"{url}/api/v2/alerts", json=[pushed], timeout=10).status_code == 200
    theirs_firing = wait_for(receiver, 1)[0]
    # Resolve it: the same alert with an end time in the past.
    ended = {**pushed, "endsAt": rfc3339(time.time() - 1)}
    assert httpx.post(f"{url}/api/v2/alerts", json=[ended], timeout=10).status_code == 200
    theirs_resolved = wait_for(receiver, 2)[1]

    for ours, theirs in ((ours_firing, theirs_firing), (ours_resolved, theirs_resolved)):
        assert set(ours) == set(theirs)
        assert set(ours["alerts"][0]) == set(theirs["alerts"][0])
        for key in ("version", "status", "groupKey", "groupLabels", "commonLabels",
                    "commonAnnotations", "truncatedAlerts", "receiver"):  # fmt: skip
            assert ours[key] == theirs[key], key
        a, b = ours["alerts"][0], theirs["alerts"][0]
        for key in ("status", "labels", "annotations", "fingerprint", "generatorURL"):
            assert a[key] == b[key], key
    assert theirs_firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert theirs_firing["alerts"][0]["startsAt"] == alert["startsAt"]
    assert theirs_resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert theirs_firing["externalURL"] == url
