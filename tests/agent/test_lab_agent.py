"""The agent as the lab runs it: started with observability, fed its alerts, holding an act
key and nothing of the chaos server's; `breakfix incidents` reads it."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from action_server.keys import verify_key
from action_server.store import Store
from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.secrets import read_secret
from lab.services import AGENT_ACTION_KEY, AGENT_INTAKE_TOKEN, CHAOS_KEY, HOOKS_TOKEN
from tests.support.alert_payloads import observability_payload, wire

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab() -> Iterator[BackgroundLab]:
    """`breakfix run` with observability and the agent, on its own state dir and ports."""
    state_dir = make_state_dir("breakfix-agent-")
    running = BackgroundLab(state_dir, lab_environment(state_dir, agent=True))
    try:
        running.start(timeout=180)
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.down()
        remove_state_dir(state_dir)


def test_the_lab_runs_the_agent_and_feeds_it(lab: BackgroundLab) -> None:
    services = lab.status()["services"]
    assert services["agent"]["health"] == "healthy"
    url = f"http://127.0.0.1:{lab.port('AGENT')}"
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    paths = StatePaths.at(lab.state_dir)
    obs = read_env(paths.observability_env)
    assert json.loads(obs["OBS_RECEIVERS"]) == [f"{url}/webhook/alertmanager"]
    assert obs["OBS_RECEIVER_TOKEN_FILE"] == str(paths.secret(AGENT_INTAKE_TOKEN))


def test_the_agent_holds_an_act_key_and_no_chaos_secret(lab: BackgroundLab) -> None:
    paths = StatePaths.at(lab.state_dir)
    env = read_env(paths.agent_env)
    key_file = Path(env["AGENT_ACTION_KEY_FILE"])
    assert key_file == paths.secret(AGENT_ACTION_KEY)
    assert key_file.stat().st_mode & 0o077 == 0
    store = Store(env["AGENT_OPS_DB_URL"])
    try:
        with store.session() as session:
            row = verify_key(session=session, presented=read_secret(key_file))
    finally:
        store.dispose()
    assert row is not None and row.scope == "act" and row.name == "agent"

    secrets = {read_secret(paths.secret(n)) for n in (CHAOS_KEY, HOOKS_TOKEN)}
    names = (CHAOS_KEY, HOOKS_TOKEN, "CHAOS_")
    env_text = paths.agent_env.read_text()
    assert not any(s in env_text for s in secrets)
    assert not any(n in env_text for n in names)
    pid = lab.status()["services"]["agent"]["pid"]
    environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    assert not any(s in environ for s in secrets)
    assert CHAOS_KEY not in environ and HOOKS_TOKEN not in environ
    keys = [item.partition("=")[0] for item in environ.split("\0")]
    assert not [k for k in keys if k.startswith("CHAOS_")]
    assert "AGENT_ENV_FILE" in keys


def test_incidents_cli_tells_the_story(lab: BackgroundLab) -> None:
    paths = StatePaths.at(lab.state_dir)
    url = f"http://127.0.0.1:{lab.port('AGENT')}"
    token = read_secret(paths.secret(AGENT_INTAKE_TOKEN))
    labels = {"alertname": "LabAgentProbe", "service": "target", "severity": "warning"}
    sent = httpx.post(
        f"{url}/webhook/alertmanager",
        json=observability_payload(wire(labels, ts=time.time())),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 200, sent.text
    incident_id = (sent.json()["opened"] + sent.json()["attached"])[0]

    listed = json.loads(lab.cli("incidents", "list", "--json").stdout)
    assert incident_id in [i["id"] for i in listed]
    shown = json.loads(lab.cli("incidents", "show", incident_id, "--json").stdout)
    assert shown["id"] == incident_id and "LabAgentProbe" in shown["alertnames"]
    assert shown["timeline"][0]["step"] == "opened"
    story = lab.cli("incidents", "show", incident_id).stdout
    assert incident_id in story and "timeline" in story
    missing = lab.cli("incidents", "show", "inc-99999", check=False)
    assert missing.returncode == 1 and "incident_not_found" in missing.stderr
    # the CLI answers with the lab operator's approver token: past the auth, refused for
    # the state
    early = lab.cli("incidents", "approve", incident_id, "--by", "operator", check=False)
    assert early.returncode == 1 and "not_awaiting_approval" in early.stderr, early.stderr
