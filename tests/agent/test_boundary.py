"""The agent's HTTP boundary (issue 13, items 4 and 8), over real HTTP on 127.0.0.1."""

import httpx

from tests.support.agent_server import AgentServer
from tests.support.hostile_bodies import Chunks, nested_json, post_chunked


def test_json_nested_too_deep_is_a_400(agent_server: AgentServer) -> None:
    for path in ("/webhook/alertmanager", "/webhook/incident", "/silences"):
        response = httpx.post(
            f"{agent_server.url}{path}",
            content=nested_json(),
            headers={"Content-Type": "application/json", **agent_server.auth()},
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "json_too_deep"


def test_a_chunked_body_over_the_limit_is_refused_before_the_token(
    agent_server: AgentServer,
) -> None:
    response = post_chunked(f"{agent_server.url}/silences", Chunks())
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert response.json()["limit_bytes"] == 64 * 1024


def test_a_large_alert_notification_still_fits(agent_server: AgentServer) -> None:
    # Alertmanager groups many alerts in one notification: the intake keeps its own limit.
    response = post_chunked(
        f"{agent_server.url}/webhook/alertmanager", Chunks(1024 * 1024), agent_server.auth()
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_payload"


def test_a_silence_length_is_not_a_boolean(agent_server: AgentServer) -> None:
    response = httpx.post(
        f"{agent_server.url}/silences",
        json={"for_s": True, "reason": "maintenance"},
        headers=agent_server.auth(),
    )
    assert response.status_code == 422, response.text
    assert httpx.get(f"{agent_server.url}/silences").json() == []
