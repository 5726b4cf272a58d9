"""alertmanager.yml: every alert routed to the agent's webhook, resolved ones included."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENT_PORT = 8002
AGENT_ALERTS_PATH = "/webhook/alertmanager"
RECEIVER = "breakfix-agent"


@dataclass(frozen=True)
class Grouping:
    """How long Alertmanager waits before a first, a further and a repeated notification."""

    group_wait: str = "10s"
    group_interval: str = "1m"
    repeat_interval: str = "1h"
    resolve_timeout: str = "5m"


def agent_webhook_url(
    host: str = "127.0.0.1", port: int = AGENT_PORT, path: str = AGENT_ALERTS_PATH
) -> str:
    """Where the agent takes Alertmanager webhooks."""
    return f"http://{host}:{port}{path}"


def alertmanager_config(
    webhook_url: str,
    *,
    grouping: Grouping = Grouping(),
    credentials_file: Path | None = None,
) -> dict[str, Any]:
    """The alertmanager.yml document; `credentials_file` is sent as a bearer token."""
    webhook: dict[str, Any] = {"url": webhook_url, "send_resolved": True, "max_alerts": 0}
    if credentials_file is not None:
        webhook["http_config"] = {
            "authorization": {"type": "Bearer", "credentials_file": str(credentials_file)}
        }
    return {
        "global": {"resolve_timeout": grouping.resolve_timeout},
        "route": {
            "receiver": RECEIVER,
            # One notification per alert and service: the agent opens one incident for each.
            "group_by": ["alertname", "service"],
            "group_wait": grouping.group_wait,
            "group_interval": grouping.group_interval,
            "repeat_interval": grouping.repeat_interval,
        },
        "receivers": [{"name": RECEIVER, "webhook_configs": [webhook]}],
        # A dead target explains its failed probes and 5xx: page for the cause only.
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="TargetDown"'],
                "target_matchers": [
                    'alertname=~"ProbeFailing|HighErrorRatio|SyntheticTransactionFailing"',
                    'service="target"',
                ],
                "equal": ["service"],
            }
        ],
    }
