"""When the second fault of a sequence goes in: what real chaos does to a responder.

- `concurrent`: at once (two independent faults together);
- `back-to-back`: `gap_s` after the first was fixed (users clean for a window, or every
  incident of the case closed);
- `during-approval`: while the responder waits for a human's yes;
- `during-verification`: while the responder verifies its fix of the first.
Arms with no incident API (nobody, the restart bot, an external agent) have no approval or
verification to catch: the second fault then goes in after FALLBACK_S.
"""

import time

from gameday.incidents import CLOSED
from gameday.outage import measure
from gameday.plan import CasePlan
from gameday.probe import JourneyProbe

FALLBACK_S = 15.0


def second_fault_due(
    *,
    plan: CasePlan,
    states: dict[str, str],
    probe: JourneyProbe,
    since: float,
    clean_window_s: float,
    now: float | None = None,
) -> bool:
    """Whether the sequence's second fault is due now."""
    now = time.time() if now is None else now
    if plan.kind == "concurrent":
        return True
    if plan.kind == "back-to-back":
        fixed = _fixed_at(states, probe, since=since, clean_window_s=clean_window_s)
        return fixed is not None and now >= fixed + plan.gap_s
    waited = {"during-approval": "awaiting_approval", "during-verification": "verifying"}
    if plan.kind in waited:
        if waited[plan.kind] in states.values():
            return True
        return now - since >= (FALLBACK_S if not states else (plan.window_s or 120.0) / 2)
    return False


def _fixed_at(
    states: dict[str, str], probe: JourneyProbe, *, since: float, clean_window_s: float
) -> float | None:
    """When users were seen clean again after the first fault (the clean window's end)."""
    journeys = probe.journeys(since=since)
    if not journeys:
        return None
    outage = measure(
        journeys, since=since, until=journeys[-1].started_at, clean_window_s=clean_window_s
    )
    if outage.start_s is not None:
        if outage.end_s is None:
            return None
        return since + outage.end_s + clean_window_s
    if states and all(s in CLOSED for s in states.values()):
        return journeys[-1].started_at  # never hurt users, and the responder is done
    return None
