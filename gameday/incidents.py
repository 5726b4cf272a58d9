"""What the agent did: its incidents (GET /incidents) and the actions the action server
recorded for its key (the audit log, read with the test's admin key)."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab

CLOSED = ("resolved", "escalated", "failed")
# Actions that change nothing in the lab: a snapshot is a copy, an escalation a message.
NOT_MUTATING = ("snapshot-db", "escalate")


def when(value: Any) -> float | None:
    """An ISO timestamp from the API as epoch seconds (None stays None)."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def incidents(lab: GamedayLab, limit: int = 200) -> list[dict[str, Any]]:
    """Every incident the agent lists, newest first."""
    if lab.agent is None:
        raise GamedayError("this lab runs no agent")
    response = lab.agent.get("/incidents", params={"limit": limit})
    response.raise_for_status()
    body = response.json()
    items: list[dict[str, Any]] = body["incidents"] if isinstance(body, dict) else body
    return items


def open_incidents(lab: GamedayLab) -> list[dict[str, Any]]:
    """Incidents not closed yet."""
    return [i for i in incidents(lab) if i["state"] not in CLOSED]


def incidents_since(lab: GamedayLab, since: float) -> list[dict[str, Any]]:
    """Incidents opened at or after `since` (epoch seconds), oldest first."""
    found = [i for i in incidents(lab) if (when(i.get("opened_at")) or 0.0) >= since]
    return sorted(found, key=lambda i: when(i.get("opened_at")) or 0.0)


def incident(lab: GamedayLab, incident_id: str) -> dict[str, Any]:
    """One incident in full (timeline, diagnosis, plans, actions, verification)."""
    if lab.agent is None:
        raise GamedayError("this lab runs no agent")
    response = lab.agent.get(f"/incidents/{incident_id}")
    response.raise_for_status()
    detail: dict[str, Any] = response.json()
    return detail


def wait_closed(lab: GamedayLab, since: float, within_s: float) -> list[dict[str, Any]]:
    """Until an incident opened after `since` exists and every such incident is closed;
    the incidents (full), or AssertionError with their states when time runs out."""
    deadline = time.monotonic() + within_s
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = incidents_since(lab, since)
        if seen and all(i["state"] in CLOSED for i in seen):
            return [incident(lab, i["id"]) for i in seen]
        time.sleep(1.0)
    states = [(i["id"], i["state"], i.get("fault")) for i in seen]
    raise GamedayError(f"no closed incident within {within_s:.0f}s: {states or 'none opened'}")


@dataclass
class ActionSeen:
    """One action the agent asked the action server to run (not a dry run)."""

    action: str
    params: dict[str, Any]
    outcome: str
    status_code: int
    at: float  # when the call began (epoch s)


def agent_actions(lab: GamedayLab, since: float) -> list[ActionSeen]:
    """Every non-dry-run action call since `since` by any key but the test's, oldest first
    (the lab's only other caller of the action server is the agent)."""
    rows = lab.actions.audit(since=datetime.fromtimestamp(since, UTC), limit=1000)
    seen = [
        ActionSeen(
            action=row.action or "",
            params=dict(row.params or {}),
            outcome=row.outcome,
            status_code=row.status_code,
            at=row.ts.timestamp() - row.duration_ms / 1000.0,  # ts is written at the end
        )
        for row in rows
        if row.path.startswith("/action/")
        and not row.dry_run
        and row.key_id != lab.own_key_id
        and row.outcome != "replayed"
    ]
    return sorted(seen, key=lambda a: a.at)


def mutating(actions: list[ActionSeen]) -> list[ActionSeen]:
    """The actions that change something in the lab."""
    return [a for a in actions if a.action not in NOT_MUTATING]
