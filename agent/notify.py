"""The agent's own notifications (approval requests, escalations) to Slack and Discord.

Same formats as the action server's escalate action (Slack incoming-webhook blocks, Discord
embeds). A message's summary and fields are plain text that may quote an alert: each format
escapes them for its platform (no mention, link or markup of their own); its links are the
agent's own and go out as they are. A notifier never breaks the run it reports on: delivery
failures are returned and logged (without the webhook URL, which is a secret), never raised.
"""

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, Field

from action_server.client import ActionClientError
from agent.store.models import ActionRecord, Incident
from lab.tls import client_tls
from lab.untrusted_text import discord, slack

if TYPE_CHECKING:
    from agent.store import IncidentStore

log = logging.getLogger("agent.notify")

Kind = Literal["approval", "escalation", "resolved"]
_COLOURS = {"approval": 0xF1C40F, "escalation": 0xE74C3C, "resolved": 0x2ECC71}
_TITLES = {
    "approval": "Breakfix: approval needed",
    "escalation": "Breakfix escalation",
    "resolved": "Breakfix: resolved",
}


class Message(BaseModel):
    """One notification: a headline, a plain-text body, short labelled fields, and the
    agent's own links."""

    kind: Kind
    incident_id: str
    summary: str = Field(max_length=4000)
    fields: dict[str, str] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)  # label -> URL (approve, deny, report)


class Delivery(BaseModel):
    """Where a message went and where it did not (receiver names only, never URLs)."""

    delivered: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


def slack_payload(m: Message) -> dict[str, Any]:
    """Slack incoming-webhook format (header, summary, fields, link buttons)."""
    title = f"{_TITLES[m.kind]}: {m.incident_id}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack(m.summary)[:3000]}},
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{slack(k)}*\n{slack(v)}"[:2000]} for k, v in m.fields.items()
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    if m.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": label},
                        "url": url,
                        "action_id": f"breakfix-{label.lower()}",
                    }
                    for label, url in m.links.items()
                ],
            }
        )
    return {"text": f"{title}: {slack(m.summary)[:500]}", "blocks": blocks}


def discord_payload(m: Message) -> dict[str, Any]:
    """Discord webhook format (one embed; links as fields); no mention may ping."""
    fields = [{"name": "incident", "value": m.incident_id, "inline": True}]
    fields += [
        {"name": discord(k)[:256], "value": discord(v)[:1024], "inline": False}
        for k, v in m.fields.items()
    ]
    fields += [
        {"name": label, "value": url[:1024], "inline": True} for label, url in m.links.items()
    ]
    return {
        "content": f"{_TITLES[m.kind]}: {m.incident_id}",
        "embeds": [
            {
                "title": _TITLES[m.kind],
                "description": discord(m.summary)[:4096],
                "color": _COLOURS[m.kind],
                "fields": fields[:25],
            }
        ],
        "allowed_mentions": {"parse": []},
    }


_FORMATS = {"slack": slack_payload, "discord": discord_payload}


class Notifier:
    """Posts messages to the configured webhooks (none configured: nothing is sent)."""

    def __init__(
        self, *, slack_url: str | None = None, discord_url: str | None = None, timeout: float = 5.0
    ) -> None:
        self._hooks = {n: u for n, u in (("slack", slack_url), ("discord", discord_url)) if u}
        self._timeout = timeout

    @property
    def receivers(self) -> list[str]:
        """The names of the configured receivers."""
        return sorted(self._hooks)

    def send(self, message: Message) -> Delivery:
        """Post to every receiver; failures are reported in the result, never raised."""
        result = Delivery()
        if not self._hooks:
            return result
        with httpx.Client(timeout=self._timeout, trust_env=False, verify=client_tls()) as client:
            for name, url in sorted(self._hooks.items()):
                try:
                    response = client.post(url, json=_FORMATS[name](message))
                    ok = response.status_code < 300
                    detail = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, detail = False, type(exc).__name__
                if ok:
                    result.delivered.append(name)
                else:
                    result.failed.append(name)
                    log.warning(
                        "%s notification for %s not delivered to %s: %s",
                        message.kind,
                        message.incident_id,
                        name,
                        detail,
                    )
        return result


def escalation_summary(incident: Incident, reason: str, actions: list[ActionRecord]) -> str:
    """The diagnosis and what was tried, for a human."""
    hypotheses = incident.diagnosis.get("hypotheses") or []
    best = (
        f"best hypothesis {hypotheses[0].get('fault')} "
        f"(confidence {float(hypotheses[0].get('confidence', 0)):.2f})"
        if hypotheses
        else "no hypothesis"
    )
    tried = [f"{a.action} ({a.status})" for a in actions if a.action != "escalate"]
    return (
        f"{incident.title} [{incident.service or 'unknown service'}]: escalated because "
        f"{reason}. Diagnosis: {best}. Tried: {', '.join(tried) or 'nothing'}."
    )[:2000]


def escalate_incident(
    *,
    store: "IncidentStore",
    actions: Any,
    notifier: Notifier,
    incident: Incident,
    reason: str,
    tried: list[ActionRecord],
) -> dict[str, Any]:
    """Page a human: the action server's `escalate` action, then the agent's own webhooks.

    Neither failing stops the escalation: what happened is returned for the event.
    """
    summary = escalation_summary(incident, reason, tried)
    key = f"{incident.id}:escalate"
    params = {
        "summary": summary,
        "severity": "critical" if incident.severity == "critical" else "warning",
        "incident_id": incident.id[:100],
        "details": {"reason": reason[:1000], "alerts": ", ".join(incident.alertnames)[:1000]},
    }
    record: dict[str, Any] = {
        "incident_id": incident.id,
        "step_no": 0,
        "action": "escalate",
        "target": "humans",
        "idempotency_key": key,
        "params": params,
    }
    store.record_action(**record, status="running")
    try:
        run = actions.act("escalate", params, idempotency_key=key, correlation_id=incident.id)
        status, note = str(run.status), str(run.summary)
        run_id: str | None = str(run.id)
    except ActionClientError as exc:
        run_id = None
        status = "refused" if exc.status in (403, 409, 422) else "error"
        note = (
            "the action server has no receiver configured (409)"
            if exc.status == 409
            else f"{exc.status} {exc.code}: {exc.detail}"
        )
    except httpx.HTTPError as exc:
        run_id, status, note = None, "error", f"action server unreachable: {type(exc).__name__}"
    store.record_action(
        **record,
        status=status,
        run_id=run_id,
        finished_at=datetime.now(UTC),
        detail={"summary": note},
    )
    delivery = notifier.send(
        Message(
            kind="escalation",
            incident_id=incident.id,
            summary=summary,
            fields={"reason": reason[:1000], "action server": f"{status}: {note}"[:1000]},
        )
    )
    return {
        "reason": reason,
        "summary": summary,
        "escalate_action": {"status": status, "note": note, "run_id": run_id},
        "notified": delivery.delivered,
        "not_delivered": delivery.failed,
    }
