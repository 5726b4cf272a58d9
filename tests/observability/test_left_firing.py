"""On start, observability resolves the episodes an earlier process left firing (real
Postgres for ops-db, a real HTTP receiver on loopback)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from observability.detector.alertmanager import rfc3339
from observability.detector.left_firing import resolve_left_firing
from observability.detector.notifier import Notifier, Receiver
from observability.store.ops_writer import OpsWriter
from observability.store.ring import RingStore
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster
from tests.support.webhook_receiver import Receiving


@pytest.fixture(scope="module")
def ops_url(target_pg: RunningCluster) -> str:
    return fresh_ops_db(target_pg, "obs_left")


@pytest.fixture
def writer(ops_url: str) -> Iterator[OpsWriter]:
    engine = create_engine(ops_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM obs_alerts"))
    engine.dispose()
    w = OpsWriter(ops_url, RingStore(window_s=60), downsample_s=60, retention_h=1)
    yield w
    w.dispose()


def _record(name: str, status: str, starts: float, ends: float | None = None) -> dict[str, Any]:
    labels = {"alertname": name, "service": "target", "severity": "critical"}
    return {
        "fingerprint": f"fp-{name}",
        "alertname": name,
        "service": "target",
        "severity": "critical",
        "status": status,
        "startsAt": rfc3339(starts),
        "endsAt": None if ends is None else rfc3339(ends),
        "summary": f"{name} on target",
        "labels": labels,
        "annotations": {"summary": f"{name} on target"},
    }


def test_episodes_left_firing_are_sent_and_recorded_resolved(writer: OpsWriter) -> None:
    now = time.time()
    writer.record_alert(_record("ServiceDown", "firing", now - 120))
    writer.record_alert(_record("ProbeFailing", "firing", now - 100))
    writer.record_alert(_record("HighErrorRatio", "resolved", now - 300, now - 200))
    receiver = Receiving()
    notifier = Notifier([Receiver(url=receiver.url)])
    try:
        assert (
            resolve_left_firing(
                writer=writer, notifier=notifier, external_url="http://obs", now=now
            )
            == 2
        )
        notifier.close()  # waits for the deliveries
    finally:
        receiver.close()
    sent = [a for body in receiver.bodies for a in body["alerts"]]
    assert sorted((a["labels"]["alertname"], a["status"]) for a in sent) == [
        ("ProbeFailing", "resolved"),
        ("ServiceDown", "resolved"),
    ]
    down = next(a for a in sent if a["labels"]["alertname"] == "ServiceDown")
    # the same episode (fingerprint and startsAt) the earlier process sent firing
    assert down["fingerprint"] == "fp-ServiceDown"
    assert down["startsAt"] == rfc3339(now - 120) and down["endsAt"] == rfc3339(now)
    with writer.store.session() as session:
        statuses = dict(session.execute(text("SELECT alertname, status FROM obs_alerts")).all())
    assert statuses == {
        "ServiceDown": "resolved",
        "ProbeFailing": "resolved",
        "HighErrorRatio": "resolved",
    }
    # nothing is left firing: a second start sends nothing
    assert resolve_left_firing(writer=writer, notifier=None, external_url="", now=now) == 0
