"""Where an incident's time went, from the agent's own timeline: the recovery breakdown.

Each stage is the seconds between two moments of the timeline (None when the incident never
got there): `detect`, the injection to the first alert's start; `intake`, to the incident
opening (delivery and correlation); `diagnose`, to the first diagnosis (the settle wait and
any look taken again); `policy`, to acting (the policy's judgement, its dry runs and any
approval wait); `act`, to verifying (the action itself, its own wait included); `verify`,
to the close (the agent's verification; users are usually back before it starts).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from gameday.incidents import when

STAGES = ("detect", "intake", "diagnose", "policy", "act", "verify")


def _entered(events: Iterable[Mapping[str, Any]], state: str) -> float | None:
    """When the incident first entered `state` (None: never)."""
    return next((when(e.get("at")) for e in events if e.get("state_to") == state), None)


def stages_of(detail: Mapping[str, Any], t0: float) -> dict[str, float]:
    """The stage durations of one incident (its full API detail) injected at `t0`."""
    events = list(detail.get("timeline") or [])
    marks = [
        t0,
        when(detail.get("detected_at")),
        when(detail.get("opened_at")),
        _entered(events, "planned"),
        _entered(events, "acting"),
        _entered(events, "verifying"),
        when(detail.get("closed_at")) if detail.get("state") == "resolved" else None,
    ]
    out: dict[str, float] = {}
    for name, start, end in zip(STAGES, marks, marks[1:], strict=False):
        if start is not None and end is not None:
            out[name] = round(max(0.0, end - start), 2)
    return out
