"""The console in-process (TestClient) on a real ops-db: login, roles, CSRF, messages for
services that refuse or are down, escaping of untrusted text, pagination.

The lab's services are not running here (their ports are closed), so every call the console
makes to them fails: the pages must say so as messages and still render.
"""

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from console.config import Settings
from console.main import create_app
from gameday.store import GamedayStore, save_run
from mcp_gateway.approvals import Approvals
from tests.console.fill import HOSTILE_TITLE, add_incident, fill_history
from tests.support.asgi import TestClient
from tests.support.gameday_factories import make_case, make_report
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster
from tests.support.ports import free_port

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def ops_url(target_pg: RunningCluster) -> str:
    url = fresh_ops_db(target_pg, "console_app")
    fill_history(url, incidents=30, audit_rows=40)
    add_incident(url, "inc-hostile", title=HOSTILE_TITLE)
    add_incident(url, "inc-waiting", title="restore wanted", state="awaiting_approval")
    return url


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console-secrets")
    for name in ("operator", "viewer", "chaos"):
        (path / f"{name}.token").write_text(secrets.token_urlsafe(32) + "\n")
    return path


@pytest.fixture(scope="module")
def settings(ops_url: str, secrets_dir: Path) -> Settings:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: every service is down
    return Settings(
        _env_file=None,
        ops_db_url=ops_url,
        state_dir=secrets_dir,  # no supervisor runs for it
        operator_token_file=secrets_dir / "operator.token",
        viewer_token_file=secrets_dir / "viewer.token",
        chaos_url=closed,
        chaos_key_file=secrets_dir / "chaos.token",
        agent_url=closed,
        observability_url=closed,
        page_size=25,
        http_timeout_s=2,
        action_timeout_s=2,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as c:
        yield c


def token(secrets_dir: Path, role: str) -> str:
    return (secrets_dir / f"{role}.token").read_text().strip()


def log_in(client: TestClient, secrets_dir: Path, role: str) -> str:
    """Log in as `role`; the session's CSRF token (from a page's form)."""
    form = client.get("/login")
    login_csrf = CSRF.search(form.text)
    assert login_csrf is not None
    answer = client.post(
        "/login",
        data={"token": token(secrets_dir, role), "csrf": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/audit")
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def test_pages_need_a_login(client: TestClient) -> None:
    for path in (
        "/lab",
        "/incidents",
        "/chaos",
        "/gamedays",
        "/audit",
        "/approvals",
        "/incidents/inc-00001",
    ):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login"
    fragment = client.get("/lab/live", headers={"X-Console-Fragment": "1"})
    assert fragment.status_code == 401
    assert fragment.headers["X-Console-Error"] == "login_required"


def test_login_sets_a_strict_httponly_session_cookie(client: TestClient, secrets_dir: Path) -> None:
    form = client.get("/login")
    login_csrf = CSRF.search(form.text)
    assert login_csrf is not None
    wrong = client.post("/login", data={"token": "not-a-token", "csrf": login_csrf.group(1)})
    assert wrong.status_code == 401
    assert "not a console token" in wrong.text
    forged = client.post("/login", data={"token": token(secrets_dir, "operator")})
    assert forged.status_code == 403  # no login CSRF token: no session
    assert "breakfix_console=" not in forged.headers.get("set-cookie", "")
    form = client.get("/login")
    login_csrf = CSRF.search(form.text)
    assert login_csrf is not None
    ok = client.post(
        "/login",
        data={"token": token(secrets_dir, "operator"), "csrf": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("breakfix_console="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert client.get("/lab").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, secrets_dir: Path, ops_url: str
) -> None:
    csrf = log_in(client, secrets_dir, "operator")
    for path, data in (
        ("/chaos/kill", {"confirm": "yes"}),
        ("/chaos/break", {"fault": "api-crash"}),
        ("/incidents/inc-waiting/approve", {"note": "x"}),
        ("/lab/services/target/restart", {}),
    ):
        refused = client.post(path, data=data, follow_redirects=False)
        assert refused.status_code == 403, path
        assert refused.headers["X-Console-Error"] == "csrf_failed"
        assert "csrf_failed" in refused.text
        wrong = client.post(path, data={**data, "csrf": csrf[::-1]}, follow_redirects=False)
        assert wrong.status_code == 403
    assert console_actions(ops_url) == []  # nothing was attempted


def console_actions(url: str) -> list[tuple[str, str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                text("SELECT actor, action, target, outcome FROM console_actions ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def test_a_viewer_sees_no_operator_form_and_cannot_post(
    client: TestClient, secrets_dir: Path
) -> None:
    csrf = log_in(client, secrets_dir, "viewer")
    for path in ("/lab", "/chaos", "/incidents/inc-waiting"):
        body = client.get(path).text
        assert 'method="post" action="/chaos' not in body, path
        assert 'action="/lab/services' not in body
        assert 'id="approve-form"' not in body
        assert "(viewer)" in body
    refused = client.post("/chaos/kill", data={"csrf": csrf, "confirm": "yes"})
    assert refused.status_code == 403
    assert refused.headers["X-Console-Error"] == "operator_only"


def test_an_operator_action_on_a_service_that_is_down_is_a_message_and_recorded(
    client: TestClient, secrets_dir: Path, ops_url: str
) -> None:
    csrf = log_in(client, secrets_dir, "operator")
    chaos = client.get("/chaos")
    assert chaos.status_code == 200
    assert "chaos: not reachable" in chaos.text
    assert "Traceback" not in chaos.text
    before = len(console_actions(ops_url))
    answer = client.post("/chaos/kill", data={"csrf": csrf, "confirm": "yes"})
    assert answer.status_code == 200  # after the redirect back to /chaos
    assert "failed: chaos: not reachable" in answer.text
    unconfirmed = client.post("/chaos/kill", data={"csrf": csrf})
    assert "refused: console: tick the confirmation" in unconfirmed.text
    bad_params = client.post(
        "/chaos/break", data={"csrf": csrf, "fault": "api-latency", "params": "[1"}
    )
    assert "params must be a JSON object" in bad_params.text
    rows = console_actions(ops_url)[before:]
    assert rows == [
        ("operator", "kill", "chaos", "error"),
        ("operator", "kill", "chaos", "refused"),
        ("operator", "break", "api-latency", "refused"),
    ]
    audit = client.get("/audit?actor=operator").text
    assert "tick the confirmation" in audit


def test_the_lab_page_says_what_is_down(client: TestClient, secrets_dir: Path) -> None:
    log_in(client, secrets_dir, "viewer")
    page = client.get("/lab")
    assert page.status_code == 200
    assert "supervisor: no lab supervisor is running" in page.text
    assert "observability: not reachable" in page.text


def test_untrusted_text_is_escaped_and_cleaned(client: TestClient, secrets_dir: Path) -> None:
    log_in(client, secrets_dir, "viewer")
    for path in ("/incidents", "/incidents/inc-hostile"):
        body = client.get(path).text
        assert "<script>alert" not in body, path
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in body
        assert "\u202e" not in body
    csp = client.get("/incidents").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp


def test_history_is_paginated_and_filtered(client: TestClient, secrets_dir: Path) -> None:
    log_in(client, secrets_dir, "viewer")
    first = client.get("/incidents").text
    live = re.search(r'data-live="([^"]+)"', first)
    assert live is not None  # what the page polls, with its empty filters
    polled = client.get(live.group(1).replace("&amp;", "&"), headers={"X-Console-Fragment": "1"})
    assert polled.status_code == 200
    assert re.findall(r'data-incident="([^"]+)"', polled.text) == re.findall(
        r'data-incident="([^"]+)"', first
    )
    rows = re.findall(r'data-incident="([^"]+)"', first)
    assert len(rows) == 25
    assert 'rel="next"' in first
    second = client.get("/incidents?page=2").text
    more = re.findall(r'data-incident="([^"]+)"', second)
    assert len(more) == 7  # 30 + 2 incidents
    assert not set(more) & set(rows)
    assert 'rel="next"' not in second
    resolved = client.get("/incidents?state=resolved").text
    states = re.findall(r'data-state="([^"]+)"', resolved)
    assert len(states) == 21 and set(states) == {"resolved"}
    crashes = client.get("/incidents?fault=db-data-loss").text
    assert set(re.findall(r'data-incident="([^"]+)"', crashes)) == {"inc-hostile", "inc-waiting"}
    refused = client.get("/audit?outcome=refused").text
    outcomes = re.findall(r'<tr data-outcome="([^"]+)"', refused)
    assert outcomes and set(outcomes) == {"refused"}
    assert len(outcomes) == 8  # every fifth of 40


def test_an_incident_shows_its_story(client: TestClient, secrets_dir: Path) -> None:
    log_in(client, secrets_dir, "operator")
    page = client.get("/incidents/inc-00003")
    assert page.status_code == 200
    body = page.text
    assert "escalated" in body
    assert "restart the API" in body  # a hypothesis's citation
    assert "target restarted, /ready in 1.2 s" in body  # the action's run record
    assert "step-8" in body  # the timeline
    assert "probe:ready:ok_ratio" in body and "4bf92f3577b34da6a3ce929d0e0e4736" in body
    assert "&lt;img src=x onerror=alert(1)&gt; refused" in body  # a log line, escaped
    assert "<img src=x" not in body
    assert "restart-api fixed it" in body  # the report
    waiting = client.get("/incidents/inc-waiting").text
    assert 'id="approve-form"' in waiting and 'id="deny-form"' in waiting
    missing = client.get("/incidents/inc-none")
    assert missing.status_code == 404
    assert missing.headers["X-Console-Error"] == "not_found"


def test_an_unexpected_error_is_a_fixed_message(
    client: TestClient, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, secrets_dir, "viewer")
    parts = client.app.state.parts  # type: ignore[attr-defined]

    def broken(**_: object) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(parts.history, "incidents", broken)
    page = client.get("/incidents")
    assert page.status_code == 500
    assert page.headers["X-Console-Error"] == "internal_error"
    assert "hunter2" not in page.text and "Traceback" not in page.text


def test_game_days_list_show_chart_and_compare(
    client: TestClient, secrets_dir: Path, ops_url: str
) -> None:
    store = GamedayStore(ops_url)
    try:
        with store.session() as session:
            save_run(session=session, report=make_report("gd-before"))
            worse = make_case(status="failed", outage_s=40.0)
            save_run(session=session, report=make_report("gd-after", cases=[worse]))
    finally:
        store.dispose()
    log_in(client, secrets_dir, "viewer")
    listing = client.get("/gamedays").text
    assert 'href="/gamedays/gd-before"' in listing and 'href="/gamedays/gd-after"' in listing
    run = client.get("/gamedays/gd-after").text
    assert "failed" in run and "40.0 s" in run
    chart = client.get("/gamedays/gd-after/outage.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    assert 'href="/gamedays/gd-after/cases/0.png"' in run
    case = client.get("/gamedays/gd-after/cases/0.png")
    assert case.status_code == 200 and case.content.startswith(b"\x89PNG")
    assert client.get("/gamedays/gd-after/cases/1.png").status_code == 404
    compared = client.get("/gamedays/compare?before=gd-before&after=gd-after").text
    assert "1 regression(s)" in compared
    assert "passed -&gt; failed" in compared
    missing = client.get("/gamedays/compare?before=gd-before&after=gd-nope").text
    assert "no game day run" in missing


def test_a_missing_chaos_key_is_a_message(
    settings: Settings, secrets_dir: Path, tmp_path: Path
) -> None:
    keyless = settings.model_copy(update={"chaos_key_file": tmp_path / "absent.key"})
    with TestClient(
        create_app(keyless), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        log_in(client, secrets_dir, "operator")
        page = client.get("/chaos")
        assert page.status_code == 200
        assert "chaos: the console has no chaos key" in page.text


def test_mcp_approvals_are_listed_and_answered_by_an_operator_only(
    client: TestClient, secrets_dir: Path, ops_url: str
) -> None:
    store = Approvals(ops_url)
    try:
        asked = store.request(
            client="<b>agent</b>", action="restore-db", params={}, reason="data loss <script>"
        )
        other = store.request(client="agent", action="scale-out", params={}, reason="load")
    finally:
        store.close()
    csrf = log_in(client, secrets_dir, "viewer")
    seen = client.get("/approvals")
    assert seen.status_code == 200 and asked.id in seen.text
    assert "<b>agent</b>" not in seen.text and "&lt;b&gt;agent&lt;/b&gt;" in seen.text
    assert f"/approvals/{asked.id}/approve" not in seen.text  # no operator form for a viewer
    refused = client.post(f"/approvals/{asked.id}/approve", data={"csrf": csrf})
    assert refused.status_code == 403

    csrf = log_in(client, secrets_dir, "operator")
    forged = client.post(f"/approvals/{asked.id}/approve", data={"note": "go"})
    assert forged.status_code == 403  # no CSRF token
    yes = client.post(
        f"/approvals/{asked.id}/approve", data={"note": "go", "csrf": csrf}, follow_redirects=True
    )
    assert yes.status_code == 200 and "runs it" in yes.text
    no = client.post(f"/approvals/{other.id}/deny", data={"csrf": csrf}, follow_redirects=True)
    assert no.status_code == 200
    twice = client.post(f"/approvals/{asked.id}/deny", data={"csrf": csrf}, follow_redirects=True)
    assert "not_pending" in twice.text or "not pending" in twice.text
    store = Approvals(ops_url)
    try:
        answered = {a.id: (a.state, a.decided_by) for a in store.recent()}
    finally:
        store.close()
    assert answered[asked.id] == ("approved", "console:operator")
    assert answered[other.id] == ("denied", "console:operator")
    pending_only = client.get("/approvals?state=pending")
    assert asked.id not in pending_only.text and other.id not in pending_only.text
