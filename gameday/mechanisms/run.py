"""One variant against a live lab with the agent: steady lab, the variant made by hand, the
agent's incidents and actions judged, the variant cleaned up, the lab steady again.

Pass: an incident diagnosed as the variant's fault that the agent resolved (an action of
that fault's runbook succeeded) or escalated, with no wrong action. A wrong action is any
action that changes the lab and is not in that fault's runbook (another fault's fix).
"""

import time
from dataclasses import dataclass, field
from typing import Literal

from gameday.cases import load_case
from gameday.errors import GamedayError, NotSteady
from gameday.incidents import ActionSeen, agent_actions, mutating, wait_closed
from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import NotReproducible, settle
from gameday.mechanisms.catalogue import MAKERS, Variant
from gameday.mechanisms.db_admin import CannotMake
from gameday.outage import measure
from gameday.probe import JourneyProbe
from gameday.side_actions import snapshot
from gameday.steady import wait_steady
from knowledge.runbook import RunbookError, load_runbooks

Status = Literal["pass", "fail", "not_reproducible", "error"]
STEADY_WITHIN_S = 150.0
EXTRA_WINDOW_S = 60.0  # beyond the chaos case's timeout: a variant may be found later


@dataclass
class Outcome:
    """What happened to one variant."""

    id: str
    fault: str
    split: str
    status: Status = "error"
    diagnosis: str | None = None  # the fault of the incident judged
    state: str | None = None
    actions: list[str] = field(default_factory=list)  # action:outcome, in order
    wrong: list[str] = field(default_factory=list)
    outage_s: float | None = None
    note: str = ""
    made_at: float | None = None  # epoch s


def fixes_of(fault: str) -> set[str]:
    """The actions of the runbooks that cover `fault`, or the case's action when the
    runbooks cannot be read (escalate is never wrong)."""
    try:
        books = load_runbooks()
    except RunbookError:  # a runbook mid-edit: the case's expected action still holds
        return {str(load_case(fault).expected.action), "escalate"}
    return {a.action for book in books if fault in book.faults for a in book.actions} | {"escalate"}


def run_variant(lab: GamedayLab, variant: Variant) -> Outcome:
    """Make, judge and clean one variant (the lab steady before and, if possible, after)."""
    out = Outcome(id=variant.id, fault=variant.fault, split=variant.split)
    maker = MAKERS[variant.id]
    if isinstance(maker, NotReproducible):
        out.status, out.note = "not_reproducible", maker.reason
        return out
    case = load_case(variant.fault)
    allowed = fixes_of(variant.fault)
    try:
        wait_steady(lab, STEADY_WITHIN_S, f"before {variant.id}")
    except NotSteady as exc:
        out.note = f"not run: {exc}"[:300]
        return out
    if case.expected.action == "restore-db":
        snapshot(lab)  # as the action server's schedule would have taken one
    made = maker()
    probe = JourneyProbe(str(lab.target.base_url)).start()
    made_at = out.made_at = time.time()
    left: list[str] = []
    try:
        made.make(lab)
        _judge(lab, out, allowed, made_at, case.timeout_s + EXTRA_WINDOW_S)
    except CannotMake as exc:
        out.status, out.note = "not_reproducible", str(exc)
    except OSError as exc:  # the variant could not be made as written (a full volume...)
        out.status, out.note = "error", f"making it failed: {exc}"[:300]
    except GamedayError as exc:
        out.status, out.note = "fail", str(exc)[:300]
        out.actions = [f"{a.action}:{a.outcome}" for a in agent_actions(lab, made_at)]
        _wrong(out, allowed, agent_actions(lab, made_at))
    finally:
        ended = time.time()
        left = made.clean(lab)
        probe.stop()
        settle(lab)
    outage = measure(probe.journeys(), since=made_at, until=ended, clean_window_s=5.0)
    out.outage_s = outage.outage_s
    if left:
        out.note = "; ".join(filter(None, [out.note, f"cleaned: {'; '.join(left)}"]))[:400]
    return out


def _wrong(out: Outcome, allowed: set[str], seen: list[ActionSeen]) -> None:
    out.wrong = [f"{a.action} {a.params}" for a in mutating(seen) if a.action not in allowed]


def _judge(
    lab: GamedayLab, out: Outcome, allowed: set[str], made_at: float, within_s: float
) -> None:
    closed = wait_closed(lab, made_at, within_s)
    seen = agent_actions(lab, made_at)
    out.actions = [f"{a.action}:{a.outcome}" for a in seen]
    _wrong(out, allowed, seen)
    mine = [i for i in closed if i.get("fault") == out.fault]
    incident = mine[0] if mine else closed[0]
    out.diagnosis, out.state = incident.get("fault"), incident.get("state")
    if len(closed) > 1:
        out.note = "incidents: " + ", ".join(f"{i.get('fault')}/{i['state']}" for i in closed)
    fixed = out.state == "resolved" and any(
        a.action in allowed - {"escalate"} and a.outcome == "succeeded" for a in seen
    )
    good = bool(mine) and (fixed or out.state == "escalated")
    out.status = "pass" if good and not out.wrong else "fail"
