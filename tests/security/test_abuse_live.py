"""The abuse suite (issue 13): what an attacker or a broken sender sends, against one live lab
with its agent, end to end over HTTP.

Bad bodies (a JSON array where an object goes, 10 MB chunked, 30,000 levels of nesting),
tokens that are not ASCII, hostile alert text and alerts stamped in the future (2099 and the
year 9999) go to every service that takes them. Then: no answer was a 5xx, nothing the lab
stored grew with what was sent, no incident stalled, and nothing the lab renders from the
hostile alert carries it raw. Each finding also has its own focused test next to its code;
this suite checks them together on the running lab.
"""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gameday.polling import until
from lab.secrets import read_secret
from lab.services import AGENT_INTAKE_TOKEN, OPS_DB, OPS_PASSWORD, OPS_ROLE, endpoints
from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.hostile_bodies import Chunks, nested_json, post_chunked

pytestmark = pytest.mark.slow

# What each service takes a body on (a route that exists: the limits come before routing).
POSTS = {
    "target": "/orders",
    "action": "/action/restart-api",
    "chaos": "/break/noop",
    "observability": "/alerts",
    "agent": "/silences",
}
CLOSED = ("resolved", "escalated", "failed")
NOT_ASCII = "tökén-ñö-ascii-0123456789abcdef"
HOSTILE = (
    "<script>alert(1)</script> [approve here](http://evil.example/approve) <!channel> "
    "@everyone\n# Heading\n| a | b |\n```\nfenced\n```\x1b[2J\u202eevil"
)


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-abuse-") as running:
        yield running


def _urls(lab: EvalLab) -> dict[str, str]:
    found = {n: e.url for n, e in endpoints(lab.settings).items() if e.kind == "http"}
    return {name: found[name] for name in POSTS}


def _intake(lab: EvalLab) -> dict[str, str]:
    return {"Authorization": f"Bearer {read_secret(lab.paths.secret(AGENT_INTAKE_TOKEN))}"}


def _ops(lab: EvalLab) -> Any:
    password = read_secret(lab.paths.secret(OPS_PASSWORD))
    return create_engine(
        f"postgresql+psycopg2://{OPS_ROLE}:{password}@127.0.0.1:{lab.settings.ops_db_port}/{OPS_DB}",
        poolclass=NullPool,
    )


def _alert(name: str, starts_at: str, text_: str = "an alert") -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": "target"},
                "annotations": {"summary": text_, "description": text_},
                "startsAt": starts_at,
            }
        ],
    }


@pytest.mark.timeout(600)
def test_hostile_requests_get_clear_refusals_and_store_nothing_unbounded(lab: EvalLab) -> None:
    urls = _urls(lab)
    answers: list[tuple[str, int]] = []
    with httpx.Client(timeout=60.0, trust_env=False) as client:
        for name, path in POSTS.items():
            url = urls[name] + path
            big = post_chunked(url, Chunks())
            assert big.status_code == 413, (name, big.status_code, big.text[:200])
            assert big.json().get("code") == "payload_too_large", (name, big.text[:200])
            deep = client.post(
                url, content=nested_json(), headers={"Content-Type": "application/json"}
            )
            assert deep.status_code in (400, 401, 413), (name, deep.status_code, deep.text[:200])
            array = client.post(url, json=[1])
            token = NOT_ASCII.encode()  # sent as UTF-8 bytes, as a broken client would
            tokens = [
                client.post(url, json={}, headers={b"Authorization": b"Bearer " + token}),
                client.post(url, json={}, headers={b"X-API-Key": token}),
                client.post(url, json={}, headers={b"X-Chaos-Key": token}),
            ]
            for response in (big, deep, array, *tokens):
                answers.append((f"{name} {response.request.method} {path}", response.status_code))
        # the action server's audit survives what it recorded (it answered 500 after `[1]`)
        audit = lab.actions.audit(limit=500)
        assert audit, "the refused requests are audited"
    assert not [a for a in answers if a[1] >= 500], answers
    with _ops(lab).connect() as conn:
        widest = conn.execute(
            text("SELECT coalesce(max(octet_length(params::text)), 0) FROM audit_log")
        ).scalar()
    assert widest < 64 * 1024, f"an audit row keeps {widest} bytes of a request"


@pytest.mark.timeout(600)
def test_alerts_from_the_future_and_hostile_text_stall_nothing_and_render_escaped(
    lab: EvalLab,
) -> None:
    agent = lab.agent
    assert agent is not None
    since = datetime.now(UTC) - timedelta(seconds=1)
    headers = _intake(lab)
    with httpx.Client(base_url=str(agent.base_url), timeout=30.0, trust_env=False) as client:
        for name, starts in (
            ("FromTheFuture", "2099-01-01T00:00:00Z"),
            ("FromFarAway", "9999-12-31T23:59:59Z"),
            ("HostileText", datetime.now(UTC).isoformat()),
        ):
            body = _alert(name, starts, HOSTILE if name == "HostileText" else "an alert")
            answer = client.post("/webhook/alertmanager", json=body, headers=headers)
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])

        def opened() -> list[dict[str, Any]]:
            listed = client.get("/incidents", params={"limit": 50}).json()["incidents"]
            return [i for i in listed if datetime.fromisoformat(i["opened_at"]) >= since]

        def settled() -> bool:
            seen = opened()
            return bool(seen) and all(i["state"] in CLOSED for i in seen)

        # none of it is on observability: each incident clears or escalates, none stalls
        assert until(settled, 120.0, every_s=1.0), opened()
        incidents = opened()
        assert not [i for i in incidents if i["state"] == "failed"], incidents
        for incident in incidents:
            assert datetime.fromisoformat(incident["detected_at"]) <= datetime.now(UTC)
            report = client.get(f"/incidents/{incident['id']}/report")
            assert report.status_code == 200, report.text[:200]
            rendered = report.text
            for raw in ("<script>", "http://evil.example", "<!channel>", "\x1b", "\u202e"):
                assert raw not in rendered, (incident["id"], raw)
            assert "\n# Heading" not in rendered and "\n```\nfenced" not in rendered
    postmortems = list((lab.paths.root / "knowledge" / "incidents").glob("*.md"))
    for path in postmortems:
        written = path.read_text()
        assert "<script>" not in written and "http://evil.example" not in written, path


@pytest.mark.timeout(300)
def test_a_slow_regular_expression_does_not_disturb_detection(lab: EvalLab) -> None:
    """`(.|.){0,16}QQQQ` took 21.9 s on Python's re and fired ProbeFailing for healthy
    services; with RE2 it is answered and nothing fires."""
    with httpx.Client(
        base_url=str(lab.observability.base_url), timeout=30.0, trust_env=False
    ) as client:
        for _ in range(5):
            answer = client.get("/logs", params={"pattern": "(.|.){0,16}QQQQ"})
            assert answer.status_code in (200, 503), answer.text[:200]
        refused = client.get("/logs", params={"pattern": r"(a)\1"})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_pattern"
        time.sleep(8.0)  # a probe alert would have fired by now (k of n over 5 s)
        firing = [
            a
            for a in client.get("/alerts").json()
            if a.get("status") == "firing" and a.get("alertname") == "ProbeFailing"
        ]
    assert not firing, json.dumps(firing)[:500]
