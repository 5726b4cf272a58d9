"""Alert storms through the intake (real Postgres, real HTTP): concurrent calls are written
together, and still every alert is recorded or counted as a duplicate, exactly, and one
outage makes one incident. Bounded in size; speed belongs in scripts/bench_intake.py."""

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agent.model import Alert, IncidentState
from agent.store import IncidentStore
from agent.store.models import IntakeResult
from tests.support.agent_server import AgentServer, stored_alerts

S = IncidentState
T0 = datetime.now(UTC) - timedelta(minutes=1)
NAMES = ("InstanceDown", "HighErrorRatio", "HighLatency")


def alert(n: int, *, service: str = "shop", name: str | None = None) -> Alert:
    return Alert(
        fingerprint=f"storm{n:05d}",
        alertname=name or NAMES[n % len(NAMES)],
        service=service,
        severity="critical",
        labels={"instance": f"pod-{n}"},
        annotations={"summary": f"replica {n} is failing"},
        starts_at=T0,
    )


def from_threads(store: IncidentStore, calls: list[list[Alert]], threads: int) -> list[Any]:
    """Every call made from `threads` threads at once; their results."""
    results: list[IntakeResult] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(mine: list[list[Alert]]) -> None:
        start.wait()
        for alerts in mine:
            result = store.ingest(alerts, group_key="storm", source="alertmanager")
            with lock:
                results.append(result)

    pool = [threading.Thread(target=worker, args=(calls[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert len(results) == len(calls)
    return results


def test_a_storm_of_repeats_is_counted_exactly(store: IncidentStore, ops_url: str) -> None:
    group = [alert(0), alert(1), alert(2)]  # Alertmanager re-sends the group
    results = from_threads(store, [group] * 400, threads=16)
    posted = 400 * len(group)
    rows, received, incidents = stored_alerts(ops_url)
    assert rows == 3 and received == posted and incidents == 1
    assert rows + sum(r.duplicates for r in results) == posted
    assert sum(len(r.opened) for r in results) == 1


def test_a_storm_of_new_alerts_of_one_outage_is_one_incident(
    store: IncidentStore, ops_url: str
) -> None:
    """Every call brings two new replicas' alerts and repeats the first one's, and is sent
    twice at once (a re-sent notification racing its first copy)."""
    calls = [[alert(0), alert(2 * c + 1), alert(2 * c + 2)] for c in range(300) for _ in "ab"]
    results = from_threads(store, calls, threads=16)
    rows, received, incidents = stored_alerts(ops_url)
    assert rows == 601 and received == 1800 and incidents == 1
    assert rows + sum(r.duplicates for r in results) == 1800
    (opened,) = [i for r in results for i in r.opened]
    assert {i for r in results for i in r.attached} <= {opened}
    incident = store.require(opened)
    assert incident.alert_count == 601 and len(incident.fingerprints) == 601
    assert sorted(incident.alertnames) == sorted(NAMES)
    steps = [e.step for e in store.events(opened)]
    assert steps.count("opened") == 1 and steps.count("alert") == 601
    assert {a.incident_id for a in store.alerts(opened)} == {opened}


def test_a_call_mixing_joins_and_a_new_outage_is_written_as_one_by_one(
    store: IncidentStore,
) -> None:
    """One payload: an alert joining the incident being fixed, one opening a new outage
    (another service), and one joining that new outage: each where one-by-one puts it, the
    timeline in order."""
    fixing = store.ingest([alert(0, name="ServiceDown")], group_key=None, source="t").opened[0]
    for to in (S.diagnosing, S.planned):
        store.transition(fixing, to, step=f"to-{to}", inputs={}, outputs={})
    plan = {"hypothesis": {"fault": "api-crash", "confidence": 0.9, "summary": "x"}, "steps": []}
    store.update(fixing, plans=[plan])
    store.transition(fixing, S.acting, step="act", inputs={}, outputs={})
    result = store.ingest(
        [
            alert(1, name="HighErrorRatio"),  # its service: the fix's outage
            alert(2, service="shop-db", name="DbDown"),  # another service: a new outage
            alert(3, service="shop-db", name="DbSlow"),  # forming: joins the new one
        ],
        group_key=None,
        source="t",
    )
    (new,) = result.opened
    assert result.attached == [fixing] and result.duplicates == 0
    assert [a.fingerprint for a in store.alerts(fixing)] == ["storm00000", "storm00001"]
    assert [a.fingerprint for a in store.alerts(new)] == ["storm00002", "storm00003"]
    assert store.require(fixing).alert_count == 2
    assert store.require(new).alertnames == ["DbDown", "DbSlow"]
    assert [(e.step, e.inputs.get("fingerprint")) for e in store.events(new)] == [
        ("opened", "storm00002"),
        ("alert", "storm00002"),
        ("alert", "storm00003"),
    ]
    assert store.events(fixing)[-1].inputs["fingerprint"] == "storm00001"


def wire_alert(n: int) -> dict[str, Any]:
    labels = {"alertname": NAMES[n % len(NAMES)], "service": "target", "instance": f"pod-{n}"}
    return {"status": "firing", "labels": labels, "startsAt": T0.isoformat()}


def test_concurrent_webhooks_lose_nothing(agent_server: AgentServer, ops_url: str) -> None:
    """200 Alertmanager posts from 20 clients at once, each with two new alerts and a repeat
    of the first: every alert answered as recorded or duplicate, one incident handed over."""
    posts = [[wire_alert(0), wire_alert(2 * p + 1), wire_alert(2 * p + 2)] for p in range(200)]

    async def post_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20, keepalive_expiry=2.0)  # < uvicorn's 5 s
        async with httpx.AsyncClient(
            base_url=agent_server.url, headers=agent_server.auth(), limits=limits, timeout=60
        ) as client:
            return await asyncio.gather(
                *(client.post("/webhook/alertmanager", json={"alerts": a}) for a in posts)
            )

    responses = asyncio.run(post_all())
    assert [r.status_code for r in responses] == [200] * len(posts)
    answered = [r.json() for r in responses]
    rows, received, incidents = stored_alerts(ops_url)
    assert rows == 401 and received == 600 and incidents == 1
    assert rows + sum(a["duplicates"] for a in answered) == 600
    assert agent_server.pipeline.submitted == [i for a in answered for i in a["opened"]]
    assert len(agent_server.pipeline.submitted) == 1
