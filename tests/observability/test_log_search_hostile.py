"""`GET /logs?pattern=`: a reader's pattern runs on RE2 (linear time), bounded, one at a time.

Security finding (issue 13 item 5): a backtracking pattern over the recent window held the
GIL for tens of seconds, starving the collectors until every service's probe alert fired.
No Postgres and no lab here: the route is served over an in-memory window.
"""

import re
import time
from typing import Any

import pytest
from fastapi import FastAPI

from observability.api.errors import install_handlers
from observability.api.routes import router
from observability.config import Settings
from observability.model import Collection, LogLine
from observability.parts import ObservabilityParts
from observability.store.ring import PATTERN_MAX_CHARS, RingStore
from tests.support.asgi import TestClient

LINES = 3000
NEEDLES = {700, 1500, 2999}  # the lines that carry QQQQ


def _window(now: float, **bounds: Any) -> RingStore:
    """A window of LINES log lines over the last minute; a few of them carry QQQQ."""
    ring = RingStore(window_s=600, max_lines=LINES, **bounds)
    lines = []
    for i in range(LINES):
        service = "target" if i % 3 else "target-db"
        text = f"2026-11-21 10:00:{i % 60:02d} ERROR connection refused by upstream id={i}"
        if i % 7 == 0:
            text = f"2026-11-21 10:00:{i % 60:02d} WARNING slow query on orders ({i} ms)"
        if i in NEEDLES:
            text += " QQQQ"
        signature = "connection_refused" if "refused" in text else "slow_query"
        lines.append(LogLine(now - 60 + i * 0.01, service, signature, text))
    ring.add(Collection(logs=lines))
    return ring


def _client(ring: RingStore) -> TestClient:
    unused = "postgresql://unused@127.0.0.1/unused"  # no writer: ops-db is never reached
    settings = Settings(_env_file=None, ops_db_url=unused)
    app = FastAPI()
    app.state.parts = ObservabilityParts(settings=settings, ring=ring)
    install_handlers(app)
    app.include_router(router)
    return TestClient(app)


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"(refused).*\1", r"\1"),  # backreference
        (r"refused(?= by)", "(?="),  # lookahead
        (r"(?<!connection )refused", "(?<!"),  # lookbehind
        (r"upstream\Z", r"\Z"),  # Python's \Z (RE2 spells it \z)
    ],
)
def test_patterns_only_a_backtracking_engine_runs_are_refused(pattern: str, named: str) -> None:
    client = _client(_window(time.time()))
    answer = client.get("/logs", params={"pattern": pattern})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "invalid_pattern"
    assert named in body["detail"]


def test_a_pattern_too_large_for_the_search_is_refused() -> None:
    client = _client(_window(time.time()))
    long = client.get("/logs", params={"pattern": "a" * (PATTERN_MAX_CHARS + 1)})
    assert long.status_code == 422 and long.json()["code"] == "invalid_pattern"
    assert f"at most {PATTERN_MAX_CHARS}" in long.json()["detail"]
    # short, but compiles to a program the search's memory bound refuses
    big = client.get("/logs", params={"pattern": r"(.*){1000}Q"})
    assert big.status_code == 422 and big.json()["code"] == "invalid_pattern"
    assert "too large" in big.json()["detail"]


def test_the_catastrophic_pattern_answers_the_right_lines() -> None:
    ring = _window(time.time())
    client = _client(ring)
    body = client.get(
        "/logs", params={"pattern": "(.|.){0,16}QQQQ", "since": 600, "limit": 1000}
    ).json()
    expected = [x.line for x in ring.logs() if "QQQQ" in x.line]
    assert len(expected) == len(NEEDLES)
    assert [x["line"] for x in body["lines"]] == expected
    assert body["total"] == len(NEEDLES) and body["scanned"] == LINES
    assert body["truncated"] is False


def test_the_scan_stops_at_its_line_bound_and_says_so() -> None:
    client = _client(_window(time.time(), search_max_lines=100))
    body = client.get("/logs", params={"pattern": "refused|slow", "limit": 1000}).json()
    assert body["truncated"] is True and body["scanned"] == 100 and body["total"] == 100
    newest = client.get("/logs", params={"limit": 100}).json()["lines"]
    assert body["lines"] == newest  # the newest lines are the ones searched, newest last


def test_the_scan_stops_at_its_time_bound_and_says_so() -> None:
    client = _client(_window(time.time(), search_budget_s=0.0))
    body = client.get("/logs", params={"pattern": "refused"}).json()
    assert body["truncated"] is True and body["scanned"] == 0 and body["lines"] == []


def test_a_second_search_is_refused_while_the_slots_are_taken() -> None:
    client = _client(_window(time.time(), search_slots=0, search_budget_s=0.01))
    busy = client.get("/logs", params={"pattern": "refused"})
    assert busy.status_code == 503 and busy.json()["code"] == "search_busy"
    assert busy.headers["retry-after"] == "1"
    assert client.get("/logs", params={"service": "target"}).status_code == 200  # no pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "refused",
        r"(?i)CONNECTION (refused|reset)",
        r"id=\d*7$",
        r"\(\d+ ms\)",
        r"^2026-11-21 10:00:0[0-4] WARNING",
        r"(?P<level>ERROR|WARNING) \w+",
    ],
)
def test_ordinary_patterns_match_what_they_matched_before(pattern: str) -> None:
    ring = _window(time.time())
    client = _client(ring)
    body = client.get(
        "/logs", params={"pattern": pattern, "service": "target", "limit": 1000}
    ).json()
    expected = [x.line for x in ring.logs(service="target") if re.search(pattern, x.line)]
    assert expected and [x["line"] for x in body["lines"]][-1000:] == expected[-1000:]
    assert body["total"] == len(expected) and body["truncated"] is False
