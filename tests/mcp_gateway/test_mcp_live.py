"""The MCP gateway with the real MCP client SDK, over stdio and streamable HTTP, against a
live lab whose own agent is off: every read tool answers, a low-risk action runs under the
client's own key, a high-risk one waits for a human's yes and then runs, bad input is
refused, and an external agent using only these tools is scored by the game day."""

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from action_server.keys import key_id_of
from breakfix.background import BREAKFIX
from gameday.report.schema import RunReport
from lab.ports import free_port
from lab.secrets import read_secret
from tests.support.chaos_lab import wait_for
from tests.support.eval_lab import SLACK_PATH, EvalLab, running_eval_lab
from tests.support.gameday_cli import run_gameday_cli

pytestmark = pytest.mark.slow
CLIENT = "tester"
READ_TOOLS = {
    "alerts",
    "snapshot",
    "series",
    "search_logs",
    "evidence",
    "db_blockers",
    "search_runbooks",
    "past_incidents",
    "action_catalogue",
    "dry_run",
}
ACT_TOOLS = {"run_action", "approval_status", "escalate"}


@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    with running_eval_lab("breakfix-mcp-", agent=False) as running:
        yield running


@asynccontextmanager
async def stdio_session(lab: EvalLab, client: str = CLIENT) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(
        command=BREAKFIX,
        args=["mcp", "serve", "--client", client],
        env=lab.lab.env,
        cwd=str(lab.lab.state_dir),
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    answer = await session.call_tool(tool, args)
    assert not answer.isError, answer.content
    assert answer.structuredContent is not None
    return dict(answer.structuredContent)


def _key_id(lab: EvalLab, client: str) -> str:
    key_id = key_id_of(read_secret(lab.paths.secret(f"mcp-{client}.key")))
    assert key_id is not None
    return key_id


def test_stdio_lists_the_tools_and_every_read_tool_answers(lab: EvalLab) -> None:
    async def scenario() -> None:
        async with stdio_session(lab) as session:
            tools = {t.name for t in (await session.list_tools()).tools}
            assert tools == READ_TOOLS | ACT_TOOLS
            resources = {str(r.uri) for r in (await session.list_resources()).resources}
            assert "breakfix://architecture" in resources and "runbook://db-lock" in resources
            prompt = await session.get_prompt("on_call_investigation", {"symptom": "slow"})
            assert "search_runbooks" in str(prompt.messages[0].content)

            snapshot = await call(session, "snapshot", service="target")
            assert snapshot["status"] == "success" and snapshot["query"]["service"] == "target"
            assert "target" in snapshot["data"]["services"]
            series = await call(session, "series", metric="service_up", service="target")
            assert series["status"] == "success" and series["data"]["points"]
            alerts = await call(session, "alerts")
            assert alerts["status"] in {"success", "no_data"}
            logs = await call(session, "search_logs", service="target", pattern="GET|POST")
            assert logs["status"] in {"success", "no_data"}
            assert logs["query"]["pattern"] == "GET|POST"
            evidence = await call(session, "evidence", service="target")
            assert evidence["status"] == "success"
            blockers = await call(session, "db_blockers")
            # Nothing blocks on a healthy lab; idle sessions that are not the app's (other
            # services' monitors) may be listed as what terminate-db-blockers would end.
            assert blockers["status"] in {"success", "no_data"}
            listed = blockers.get("data") or {"candidates": [], "protected": []}
            assert not [c for c in listed["candidates"] if c["blocks"]], listed
            runbooks = await call(
                session,
                "search_runbooks",
                query="requests wait forever on a table, sessions stuck waiting for a lock",
            )
            assert runbooks["status"] == "success"
            assert "db-lock" in [m["id"] for m in runbooks["data"]]
            incidents = await call(session, "past_incidents", query="the api crashed")
            assert incidents["status"] == "no_data"  # the agent is off: no postmortem yet
            catalogue = await call(session, "action_catalogue")
            assert {"restart-api", "restore-db"} <= {a["name"] for a in catalogue["data"]}
            plan = await call(session, "dry_run", action="restart-api")
            assert plan["status"] == "success" and plan["data"]["dry_run"] is True

            again = await call(session, "action_catalogue")
            assert again["status"] == "error" and "identical call" in again["error"]

    anyio.run(scenario)


def test_bad_input_is_refused_with_the_field_named(lab: EvalLab) -> None:
    async def scenario() -> None:
        async with stdio_session(lab) as session:
            bad = await session.call_tool("series", {"metric": "not a metric"})
            assert bad.isError and "metric" in str(bad.content)
            unknown = await session.call_tool("read_chaos_ledger", {})
            assert unknown.isError and "read_chaos_ledger" in str(unknown.content)
            outside = await call(session, "run_action", action="drop-database", reason="why not")
            assert outside["status"] == "error"
            assert "not a catalogue action" in outside["error"]
            wrong = await call(session, "dry_run", action="restart-api", params={"force": True})
            assert wrong["status"] == "error" and "force" in wrong["error"]

    anyio.run(scenario)


def test_a_low_risk_action_runs_under_the_clients_own_key(lab: EvalLab) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with stdio_session(lab) as session:
            done = await call(session, "run_action", action="clear-cache", reason="test")
            paged = await call(
                session, "escalate", summary="cache cleared by the MCP test", severity="info"
            )
            return done, paged

    done, paged = anyio.run(scenario)
    assert paged["status"] == "success", paged
    sent = lab.receiver.received.get(SLACK_PATH, [])
    assert any("cache cleared by the MCP test" in json.dumps(body) for body in sent)
    assert done["status"] == "success", done
    assert done["data"]["status"] == "succeeded"
    rows = lab.actions.audit(action="clear-cache")
    mine = [r for r in rows if r.run_id is not None and str(r.run_id) == done["data"]["run_id"]]
    assert [r.key_id for r in mine] == [_key_id(lab, CLIENT)]
    keys = lab.lab.cli("keys", "list").stdout
    assert any(
        _key_id(lab, CLIENT) in line and f"mcp:{CLIENT}" in line for line in keys.splitlines()
    )


def test_a_high_risk_action_waits_for_a_human_then_runs_once(lab: EvalLab) -> None:
    lab.actions.act("snapshot-db", {}, wait=True)  # restore-db needs a verified snapshot

    async def ask() -> dict[str, Any]:
        async with stdio_session(lab) as session:
            asked = await call(session, "run_action", action="restore-db", reason="data loss")
            assert asked["status"] == "approval_required", asked
            approval_id = asked["data"]["approval_id"]
            waiting = await call(session, "approval_status", approval_id=approval_id)
            assert waiting["status"] == "approval_required"
            assert waiting["data"]["state"] == "pending"
            return dict(asked["data"])

    asked = anyio.run(ask)
    # the client's word made a dry run (its plan) and nothing else
    assert [r.dry_run for r in lab.actions.audit(action="restore-db")] == [True]
    listed = lab.lab.cli("mcp", "approvals", "--state", "pending", "--json").stdout
    pending = [json.loads(line) for line in listed.splitlines()]
    assert [(p["approval_id"], p["action"], p["client"]) for p in pending] == [
        (asked["approval_id"], "restore-db", CLIENT)
    ]
    said = lab.lab.cli("mcp", "approve", asked["approval_id"], "--note", "go", "--by", "alice")
    assert "approved" in said.stdout

    async def poll() -> tuple[dict[str, Any], dict[str, Any]]:
        async with stdio_session(lab) as session:
            ran = await call(session, "approval_status", approval_id=asked["approval_id"])
            again = await call(session, "approval_status", approval_id=asked["approval_id"])
            return ran, again

    ran, again = anyio.run(poll)
    assert ran["status"] == "success", ran
    assert ran["data"]["state"] == "executed" and ran["data"]["decided_by"] == "alice"
    assert again["data"]["run_id"] == ran["data"]["run_id"]  # polled twice, ran once
    runs = [r for r in lab.actions.audit(action="restore-db") if not r.dry_run]
    assert [(str(r.run_id), r.key_id) for r in runs] == [
        (ran["data"]["run_id"], _key_id(lab, CLIENT))
    ]
    denied_twice = lab.lab.cli("mcp", "deny", asked["approval_id"], check=False)
    assert denied_twice.returncode == 1 and "not_pending" in denied_twice.stderr


def test_http_needs_the_bearer_token_and_serves_the_same_tools(
    lab: EvalLab, tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "gateway.log").open("w")
    server = subprocess.Popen(
        [BREAKFIX, "mcp", "serve", "--http", "--port", str(port), "--client", "http-tester"],
        env=lab.lab.env,
        cwd=lab.lab.state_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for(lambda: _answers(url), what="the MCP gateway on HTTP", timeout=60)
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        token = read_secret(lab.paths.secret("mcp-http.token"))

        async def scenario() -> tuple[set[str], dict[str, Any]]:
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx.AsyncClient(headers=headers, timeout=60, trust_env=False) as http,
                streamable_http_client(url, http_client=http) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                return tools, await call(session, "snapshot", service="target-db")

        tools, snapshot = anyio.run(scenario)
        assert tools == READ_TOOLS | ACT_TOOLS
        assert snapshot["status"] == "success" and "target-db" in snapshot["data"]["services"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 401
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(900)
def test_the_example_agent_fixes_db_lock_and_api_crash_and_is_scored(
    lab: EvalLab, tmp_path: Path
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "mcp_agent.py"
    agent = subprocess.Popen(
        [sys.executable, str(example), "--duration", "800"],
        env=lab.lab.env,
        cwd=lab.lab.state_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    try:
        started = agent.stdout.readline()  # its first line: connected, with the tool count
        assert '"started"' in started, agent.communicate(timeout=60)
        done = run_gameday_cli(
            lab.lab, "--faults", "db-lock,api-crash", "--out", str(tmp_path), timeout=780
        )
    finally:
        agent.terminate()
        out, errors = agent.communicate(timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr + errors
    report = RunReport.model_validate_json((tmp_path / "gameday.json").read_text())
    verdicts = {
        c.case: (c.status, [(a.action, a.verdict) for a in c.actions]) for c in report.cases
    }
    assert verdicts == {
        "db-lock": ("passed", [("terminate-db-blockers", "correct")]),
        "api-crash": ("passed", [("restart-api", "correct")]),
    }, out + errors
    acted = [json.loads(line) for line in out.splitlines() if '"action"' in line]
    assert all(a["status"] == "success" for a in acted), out
    assert {a["action"] for a in acted} == {"terminate-db-blockers", "restart-api"}
    assert all(r.recovered_by == "responder" for r in report.cases)
