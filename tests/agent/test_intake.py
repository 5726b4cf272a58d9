"""Intake parsing: what observability, a real Alertmanager and Grafana send, the incident
contract, and what is refused (over real HTTP for the status codes)."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agent.api.errors import InvalidPayload
from agent.intake import MAX_BODY_BYTES, decode, parse_contract, parse_webhook
from observability.detector.alertmanager import fingerprint
from tests.support.agent_server import AgentServer
from tests.support.alert_payloads import LABELS, observability_payload, wire


def contract(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "incident_id": "INC-42",
        "timestamp": "2030-01-01T12:00:00.123456789Z",
        "breached_slo": "availability-99.9",
        "container_info": {"id": "c0ffee", "name": "target", "image": "shop:1.2"},
        "observability_context": {
            "metrics_snapshot": {"http_5xx_ratio": 0.4},
            "trace_ids": ["ab" * 16],
            "correlated_logs": ["psycopg2.OperationalError: connection refused"],
        },
        "extra_field_from_the_future": True,
    }
    body.update(overrides)
    return body


def test_observability_webhook_is_parsed() -> None:
    intake = parse_webhook(observability_payload())
    assert intake.source == "alertmanager"
    assert intake.group_key == '{}:{alertname="TargetDown"}'
    (alert,) = intake.alerts
    assert alert.fingerprint == fingerprint(LABELS) and alert.alertname == "TargetDown"
    assert alert.service == "target" and alert.severity == "critical"
    assert alert.starts_at == datetime.fromtimestamp(1.7e9, tz=UTC)
    assert alert.ends_at is None  # Go's zero time means "still firing"


def test_real_alertmanager_shape_with_extra_fields() -> None:
    labels = {"alertname": "HighLatency", "job": "shop", "instance": "10.0.0.1:8000"}
    alert = wire(labels, status="resolved") | {"silenced": False, "extra": {"x": 1}}
    del alert["fingerprint"]  # computed like Alertmanager does when absent
    payload = observability_payload(alert) | {
        "truncatedAlerts": 0,
        "receiver": "breakfix",
        "commonLabels": labels,
        "someNewField": [1, 2],
    }
    (parsed,) = parse_webhook(payload).alerts
    assert parsed.fingerprint == fingerprint(labels)
    assert parsed.status == "resolved" and parsed.service == "shop"
    assert parsed.ends_at == datetime.fromtimestamp(1.7e9 + 60, tz=UTC)


def test_grafana_unified_alerting_payload() -> None:
    payload = {
        "receiver": "breakfix",
        "status": "firing",
        "orgId": 1,
        "state": "alerting",
        "title": "[FIRING:1] TargetErrors",
        "message": "**Firing**",
        "groupKey": '{}/{}:{alertname="TargetErrors"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "TargetErrors",
                    "grafana_folder": "Breakfix",
                    "service": "target",
                },
                "annotations": {"summary": "5xx over 20%"},
                "startsAt": "2030-01-01T12:00:00.000000001+01:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "values": {"B": 0.31},
                "valueString": "[ var='B' value=0.31 ]",
                "fingerprint": "a1b2c3d4e5f60708",
                "silenceURL": "http://grafana/alerting/silence/new",
            }
        ],
        "version": "1",
    }
    intake = parse_webhook(payload)
    assert intake.source == "grafana"
    (alert,) = intake.alerts
    assert alert.fingerprint == "a1b2c3d4e5f60708" and alert.source == "grafana"
    assert alert.starts_at == datetime(2030, 1, 1, 11, 0, tzinfo=UTC)


def test_incident_contract_is_one_alert_with_its_context() -> None:
    intake = parse_contract(contract())
    (alert,) = intake.alerts
    assert intake.source == "incident" and alert.source == "incident"
    assert alert.alertname == "availability-99.9" and alert.service == "target"
    assert intake.contract is not None and intake.contract["incident_id"] == "INC-42"
    assert intake.contract["observability_context"]["trace_ids"] == ["ab" * 16]
    assert "extra_field_from_the_future" not in intake.contract
    assert parse_contract(contract()).alerts[0].fingerprint == alert.fingerprint


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"alerts": [{"labels": {"service": "x"}}]}, "alertname"),
        ({"alerts": [{"labels": {"alertname": "A"}, "status": "weird"}]}, "status"),
        ({"alerts": "nope"}, "alerts"),
        ({"receiver": "x"}, "alerts"),
        ([], "JSON object"),
        ({"alerts": [{"labels": {"alertname": "A"}, "startsAt": "yesterday"}]}, "startsAt"),
    ],
)
def test_malformed_webhooks_name_what_is_wrong(document: Any, where: str) -> None:
    with pytest.raises(InvalidPayload, match=where) as caught:
        parse_webhook(document)
    assert caught.value.code == "invalid_payload" and caught.value.status_code == 422


@pytest.mark.parametrize("missing", ["incident_id", "timestamp", "breached_slo", "container_info"])
def test_contract_without_a_required_field_is_refused(missing: str) -> None:
    body = contract()
    del body[missing]
    with pytest.raises(InvalidPayload, match=missing):
        parse_contract(body)


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        decode(b"{nope")


def test_http_intake_needs_the_token(agent_server: AgentServer) -> None:
    url = f"{agent_server.url}/webhook/alertmanager"
    for headers in ({}, {"Authorization": "Bearer wrong-token-123456"}, {"X-Agent-Token": "x"}):
        response = httpx.post(url, json=observability_payload(), headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthorized"
        assert agent_server.token not in response.text
    ok = httpx.post(
        url, json=observability_payload(), headers={"X-Agent-Token": agent_server.token}
    )
    assert ok.status_code == 200 and len(ok.json()["opened"]) == 1
    assert agent_server.pipeline.submitted == ok.json()["opened"]


def test_http_intake_refuses_bad_bodies(agent_server: AgentServer) -> None:
    url = f"{agent_server.url}/webhook/alertmanager"
    bad = httpx.post(url, json={"alerts": [{}]}, headers=agent_server.auth())
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_payload"
    assert "labels" in bad.json()["detail"]
    garbage = httpx.post(url, content=b"\xff\xfe", headers=agent_server.auth())
    assert garbage.status_code == 422 and garbage.json()["code"] == "invalid_payload"
    form = httpx.post(url, data={"a": "b"}, headers=agent_server.auth())
    assert form.status_code == 415 and form.json()["code"] == "unsupported_media_type"
    huge = httpx.post(
        url,
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={**agent_server.auth(), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    assert agent_server.store.list() == []


def test_http_contract_opens_one_incident_straight_away(agent_server: AgentServer) -> None:
    url = f"{agent_server.url}/webhook/incident"
    first = httpx.post(url, json=contract(), headers=agent_server.auth())
    assert first.status_code == 200, first.text
    incident_id = first.json()["incident_id"]
    assert first.json()["opened"] == [incident_id]
    again = httpx.post(url, json=contract(), headers=agent_server.auth())
    assert again.json()["incident_id"] == incident_id and again.json()["duplicates"] == 1
    incident = agent_server.store.require(incident_id)
    assert incident.external_id == "INC-42" and incident.service == "target"
    missing = httpx.post(url, content=json.dumps({"incident_id": "x"}), headers=agent_server.auth())
    assert missing.status_code == 422 and "breached_slo" in missing.json()["detail"]


def test_resolved_notification_over_http(agent_server: AgentServer) -> None:
    url = f"{agent_server.url}/webhook/alertmanager"
    now = time.time()
    opened = httpx.post(url, json=observability_payload(wire(ts=now)), headers=agent_server.auth())
    incident_id = opened.json()["opened"][0]
    resolved = httpx.post(
        url,
        json=observability_payload(wire(status="resolved", ts=now)),
        headers=agent_server.auth(),
    )
    assert resolved.json()["resolved"] == 1 and resolved.json()["opened"] == []
    assert agent_server.store.firing_alerts(incident_id) == []
