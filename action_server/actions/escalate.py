"""escalate: page a human with the diagnosis, on Slack and Discord webhooks."""

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from action_server.catalogue import ActionSpec, Risk
from action_server.context import ActionContext, ActionFailed, Outcome, Plan, PreconditionFailed
from lab.tls import client_tls
from lab.untrusted_text import discord, slack

_COLOURS = {"info": 0x3498DB, "warning": 0xF1C40F, "critical": 0xE74C3C}


class EscalateParams(BaseModel):
    """What the human on call needs to know."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=2000)
    severity: Literal["info", "warning", "critical"] = "critical"
    incident_id: str | None = Field(None, max_length=100)
    details: dict[str, str] = Field(default_factory=dict, max_length=20)


def slack_payload(p: EscalateParams) -> dict[str, Any]:
    """Slack incoming-webhook format. The summary and details quote what alerts said (any
    intake sender's text): escaped, so no `<!channel>`, live link or mention gets through."""
    incident = f": {slack(p.incident_id)}" if p.incident_id else ""
    title = f"Breakfix escalation ({p.severity}){incident}"
    summary = slack(p.summary)
    fields = [{"type": "mrkdwn", "text": f"*{slack(k)}*\n{slack(v)}"} for k, v in p.details.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    return {"text": f"{title}: {summary}", "blocks": blocks}


def discord_payload(p: EscalateParams) -> dict[str, Any]:
    """Discord webhook format: text escaped and mentions off, as for Slack."""
    fields = [{"name": "severity", "value": p.severity, "inline": True}]
    if p.incident_id:
        fields.append({"name": "incident", "value": discord(p.incident_id), "inline": True})
    fields += [
        {"name": discord(k, limit=256), "value": discord(v, limit=1024), "inline": False}
        for k, v in p.details.items()
    ]
    return {
        "content": f"Breakfix escalation ({p.severity})",
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": "Breakfix escalation",
                "description": discord(p.summary, limit=4096),
                "color": _COLOURS[p.severity],
                "fields": fields[:25],
            }
        ],
    }


_FORMATS = {"slack": slack_payload, "discord": discord_payload}


def plan(ctx: ActionContext, params: EscalateParams) -> Plan:
    """Name the receivers (never their URLs); refuse when there is nobody to page."""
    receivers = sorted(ctx.webhooks)
    if not receivers:
        raise PreconditionFailed(
            "no receiver configured: set ACTION_SLACK_WEBHOOK_URL or ACTION_DISCORD_WEBHOOK_URL"
        )
    return Plan(
        summary=f"notify {', '.join(receivers)}",
        changes=[f"POST to the {name} webhook" for name in receivers],
        details={"receivers": receivers},
    )


def execute(ctx: ActionContext, params: EscalateParams) -> Outcome:
    """Post to every configured receiver; fails when a configured one refuses."""
    delivered: list[str] = []
    failed: list[str] = []
    with httpx.Client(timeout=5.0, trust_env=False, verify=client_tls()) as client:
        for name, url in sorted(ctx.webhooks.items()):
            try:
                response = client.post(url, json=_FORMATS[name](params))
                (delivered if response.status_code < 300 else failed).append(name)
            except httpx.HTTPError:
                failed.append(name)
    if failed:
        raise ActionFailed(f"escalation not delivered to {', '.join(failed)}")
    note = "" if delivered else " (no receiver configured: recorded in the audit log only)"
    return Outcome(
        summary=f"escalated to {', '.join(delivered) or 'nobody'}{note}",
        details={"delivered": delivered, "severity": params.severity},
    )


ESCALATE = ActionSpec(
    name="escalate",
    summary="Page a human: post the diagnosis to Slack and Discord webhooks.",
    params=EscalateParams,
    risk=Risk.low,
    idempotent=False,
    target="humans",
    plan=plan,
    execute=execute,
    mutating=False,
    durable=False,
    backends=("local", "docker"),
)
