"""Per case: what the agent concluded and did, and how long each stage took after the
injection request (time to detect, diagnose, mitigate), printed as one table."""

from dataclasses import dataclass, field
from typing import Any

from gameday.incidents import ActionSeen, when


@dataclass
class CaseRun:
    """One evaluation's outcome; times are seconds after the injection request."""

    case: str
    expected_action: str | None = None
    incident: str | None = None
    fault: str | None = None
    state: str | None = None
    actions: list[str] = field(default_factory=list)
    ttd_s: float | None = None
    diagnosed_s: float | None = None
    ttm_s: float | None = None
    closed_s: float | None = None
    passed: bool = False
    note: str = ""

    def record(self, incident: dict[str, Any], seen: list[ActionSeen], injected_at: float) -> None:
        """Take the incident's timestamps and the actions the agent ran."""

        def after(name: str) -> float | None:
            moment = when(incident.get(name))
            return None if moment is None else moment - injected_at

        self.incident, self.fault = str(incident["id"]), incident.get("fault")
        self.state = incident.get("state")
        self.ttd_s, self.diagnosed_s = after("detected_at"), after("diagnosed_at")
        self.ttm_s, self.closed_s = after("mitigated_at"), after("closed_at")
        self.actions = [f"{a.action}:{a.outcome}" for a in seen]


def render_table(runs: list[CaseRun]) -> str:
    """Case, verdict, the agent's diagnosis, state and actions, and the stage times."""

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    head = (
        f"{'case':<20}{'ok':<4}{'diagnosis':<20}{'state':<11}"
        f"{'ttd_s':>7}{'diag_s':>8}{'ttm_s':>7}{'closed_s':>9}  actions (expected) / note"
    )
    lines = [
        "agent evaluation: seconds from the chaos injection request to the incident's",
        "detected_at (TTD), diagnosed_at, mitigated_at (TTM) and closed_at",
        head,
    ]
    for r in runs:
        line = f"{r.case:<20}{'yes' if r.passed else 'NO':<4}{(r.fault or '-'):<20}"
        line += f"{(r.state or '-'):<11}{secs(r.ttd_s):>7}{secs(r.diagnosed_s):>8}"
        line += f"{secs(r.ttm_s):>7}{secs(r.closed_s):>9}  "
        line += f"{', '.join(r.actions) or '-'} ({r.expected_action or 'none'})"
        lines.append(line + (f" / {r.note}" if r.note else ""))
    return "\n".join(lines)
