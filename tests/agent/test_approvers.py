"""Approvers have credentials of their own (issue 13, items 7 and 8), over real HTTP.

The intake token (observability holds it too) posts alerts and silences and is refused on
approve and deny; an approver's token answers approvals only, and the recorded approver is
the name its token is filed under, whatever the body says. A token that is not ASCII is
refused with 401, never a 500.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.model import IncidentState
from breakfix.cli.incidents_commands import incidents_app
from gameday.approver import Approver
from lab.config import get_settings
from tests.support.agent_server import AgentServer
from tests.support.alert_payloads import LABELS, observability_payload, wire

S = IncidentState
NON_ASCII = [
    {"Authorization": "Bearer tökén".encode()},
    {"Authorization": "Bearer tökén".encode("latin-1")},
    {"X-Agent-Token": "tökén-tökén-tökén".encode()},
]


def _awaiting(server: AgentServer, alertname: str = "TargetDown") -> str:
    """A new incident (one per alert name), moved on to awaiting approval."""
    alert = wire({**LABELS, "alertname": alertname}, ts=datetime.now(UTC).timestamp())
    opened = httpx.post(
        f"{server.url}/webhook/alertmanager",
        json=observability_payload(alert),
        headers=server.auth(),
    )
    assert opened.status_code == 200, opened.text
    incident_id: str = opened.json()["opened"][0]
    for state in (S.diagnosing, S.planned, S.awaiting_approval):
        server.store.transition(incident_id, state, step=f"to-{state}", inputs={}, outputs={})
    return incident_id


def _recorded_by(server: AgentServer, incident_id: str) -> str:
    approval = [e for e in server.store.events(incident_id) if e.step == "approval"]
    by: str = approval[-1].inputs["by"]
    return by


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_the_intake_token_cannot_answer_an_approval(agent_server: AgentServer, verb: str) -> None:
    incident_id = _awaiting(agent_server)
    url = f"{agent_server.url}/incidents/{incident_id}/{verb}"
    for headers in (agent_server.auth(), {"X-Agent-Token": agent_server.token}):
        refused = httpx.post(url, json={"by": "alice"}, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "approver_token_required"
        assert agent_server.token not in refused.text
    assert agent_server.pipeline.answers == []
    assert agent_server.store.require(incident_id).state is S.awaiting_approval


def test_an_approver_is_recorded_by_the_name_of_its_token(agent_server: AgentServer) -> None:
    incident_id = _awaiting(agent_server)
    url = f"{agent_server.url}/incidents/{incident_id}"
    alice = agent_server.approver("alice")
    impostor = httpx.post(f"{url}/approve", json={"by": "bob"}, headers=alice)
    assert impostor.status_code == 403 and impostor.json()["code"] == "approver_mismatch"
    assert agent_server.pipeline.answers == []
    granted = httpx.post(f"{url}/approve", json={"by": "alice", "note": "go"}, headers=alice)
    assert granted.status_code == 200 and granted.json()["state"] == "acting"
    assert agent_server.pipeline.answers == [(incident_id, "alice", True)]
    assert _recorded_by(agent_server, incident_id) == "alice"

    _to_resolved(agent_server, incident_id)
    other = _awaiting(agent_server, "DbDown")
    denied = httpx.post(
        f"{agent_server.url}/incidents/{other}/deny",
        json={"note": "not now"},  # no name at all: the token's
        headers=agent_server.approver("gameday"),
    )
    assert denied.status_code == 200 and denied.json()["state"] == "escalated"
    assert agent_server.pipeline.answers[-1] == (other, "gameday", False)
    assert _recorded_by(agent_server, other) == "gameday"


def _to_resolved(server: AgentServer, incident_id: str) -> None:
    for state in (S.verifying, S.resolved):
        server.store.transition(incident_id, state, step=f"to-{state}", inputs={}, outputs={})


def test_an_approver_token_cannot_post_alerts_or_silences(agent_server: AgentServer) -> None:
    alice = agent_server.approver("alice")
    for path in ("/webhook/alertmanager", "/webhook/incident"):
        refused = httpx.post(
            f"{agent_server.url}{path}", json=observability_payload(), headers=alice
        )
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "intake_token_required"
    silence = httpx.post(f"{agent_server.url}/silences", json={"for_s": 60}, headers=alice)
    assert silence.status_code == 403 and silence.json()["code"] == "intake_token_required"
    assert agent_server.pipeline.submitted == []
    assert httpx.get(f"{agent_server.url}/incidents").json()["incidents"] == []


def test_a_non_ascii_token_is_401_not_500(agent_server: AgentServer) -> None:
    incident_id = _awaiting(agent_server)
    for headers in NON_ASCII:
        for path in ("/webhook/alertmanager", f"/incidents/{incident_id}/approve", "/silences"):
            body = observability_payload() if "webhook" in path else {"for_s": 60}
            response = httpx.post(f"{agent_server.url}{path}", json=body, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.json()["code"] == "unauthorized"
    assert agent_server.pipeline.answers == []


def test_the_game_days_approver_answers_with_its_own_credential(
    agent_server: AgentServer,
) -> None:
    incident_id = _awaiting(agent_server)
    client = httpx.Client(
        base_url=agent_server.url, headers=agent_server.approver("gameday"), trust_env=False
    )
    approver = Approver(client, mode="auto", think_time_s=0.0, every_s=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while not agent_server.pipeline.answers and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        approver.stop()
        client.close()
    assert agent_server.pipeline.answers == [(incident_id, "gameday", True)]
    assert approver.asked[incident_id].answer == "approved"


@pytest.fixture
def cli(
    agent_server: AgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """`breakfix incidents` pointed at the test agent, the state dir being tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("BREAKFIX_AGENT_PORT", agent_server.url.rpartition(":")[2])
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_cli_answers_as_the_labs_operator_or_with_a_token_file(
    agent_server: AgentServer, cli: CliRunner, tmp_path: Path
) -> None:
    incident_id = _awaiting(agent_server)
    mismatch = cli.invoke(incidents_app, ["approve", incident_id, "--by", "bob"])
    assert mismatch.exit_code == 1 and "approver_mismatch" in mismatch.stderr, mismatch.stderr
    approved = cli.invoke(incidents_app, ["approve", incident_id, "--note", "go"])
    assert approved.exit_code == 0, approved.stderr
    assert agent_server.pipeline.answers == [(incident_id, "operator", True)]

    _to_resolved(agent_server, incident_id)
    other = _awaiting(agent_server, "DbDown")
    personal = tmp_path / "alice.token"
    personal.write_text(agent_server.approvers["alice"] + "\n")
    personal.chmod(0o600)
    denied = cli.invoke(incidents_app, ["deny", other, "--token-file", str(personal)])
    assert denied.exit_code == 0, denied.stderr
    assert agent_server.pipeline.answers[-1] == (other, "alice", False)
