"""One case under one arm, from a steady lab to a scored result.

Validate, act, record: the lab must be steady (else the case is not run: never inject into
a broken lab), a baseline is taken, the fault(s) go in, the arm responds while the probe
watches users, and when the case settles (or its window closes) the game day looks at what
the responder did, checks the recovery oracle, takes its faults away, checks the data and
waits for the lab to be steady again. Whatever happens, Ctrl-C included, what the game day
put in place is taken away.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from gameday.approver import Approver, Asked
from gameday.arms import responding
from gameday.cases import Case, load_case
from gameday.errors import GamedayError, NotSteady
from gameday.incidents import CLOSED, agent_actions, incident, incidents_since, when
from gameday.injection import Placed, place, remove
from gameday.lab_handle import GamedayLab
from gameday.oracles import Baseline, recovered, rows_lost, take_baseline
from gameday.outage import measure
from gameday.plan import CasePlan
from gameday.probe import JourneyProbe
from gameday.report import schema
from gameday.scoring import judge
from gameday.side_actions import restore_primary_routes, snapshot
from gameday.stages import stages_of
from gameday.steady import VICTIMS, wait_steady
from gameday.trigger import second_fault_due

Phase = Callable[[str, str], None]  # (case id, what is happening)
QUIET_S = 30.0  # a fault users never feel: how long a responder without incidents gets


@dataclass
class CaseSettings:
    """How a case is run."""

    clean_window_s: float = 5.0
    steady_within_s: float = 150.0
    settle_s: float = 10.0  # after the last injection, before the case may end
    oracle_within_s: float = 10.0


@dataclass
class Watch:
    """What the game day saw while the case ran."""

    first_alert_at: float | None = None
    states: dict[str, str] = field(default_factory=dict)


def run_case(
    *,
    lab: GamedayLab,
    plan: CasePlan,
    arm: schema.Arm,
    repeat: int,
    probe: JourneyProbe,
    approver: Approver | None,
    settings: CaseSettings,
    phase: Phase,
) -> schema.CaseResult:
    """Run the case; its result, scored (or not run, with the reason)."""
    cases = [load_case(f.catalogue_fault) for f in plan.faults]
    expected = [schema.Expected(**c.expected.model_dump()) for c in cases]
    case_id = f"{plan.title}#{repeat}/{arm}"
    window = plan.window_s or max(c.timeout_s for c in cases)
    kind: schema.CaseKind = _kind(plan, cases)
    started = time.time()
    result = schema.CaseResult(
        id=case_id,
        case=plan.title,
        kind=kind,
        arm=arm,
        repeat=repeat,
        status="not_run",
        expected=expected[0],
        started_at=started,
        finished_at=started,
    )
    phase(case_id, "waiting for a steady lab")
    try:
        wait_steady(
            lab, settings.steady_within_s, f"before {case_id}", incidents=lab.agent is not None
        )
    except NotSteady as exc:
        result.reasons = [f"not run: {exc}"]
        result.finished_at = time.time()
        return result
    baseline = take_baseline(lab)
    if any(e.action == "restore-db" for e in expected):
        snapshot(lab)  # as the action server's schedule would have taken one
    placed: list[Placed] = []
    with responding(lab, arm, for_s=window + 120):
        try:
            try:
                refused = _inject_and_watch(
                    lab, plan, arm, cases, placed, window, probe, settings, phase, case_id
                )
            except Refused as exc:  # the lab said no: this case is not run, the day goes on
                result.reasons = [f"not run: {exc}"]
                result.faults = [p.record for p in placed]
                result.finished_at = time.time()
                phase(case_id, "not run: refused")
                return result
            end = time.time()
            result.faults = [p.record for p in placed]
            result.started_at = placed[0].record.injected_at if placed else started
            _observe(lab, result, expected, cases, baseline, approver, probe, settings, end)
        finally:
            for p in placed:
                remove(lab, p)
    result.faults = [p.record for p in placed]
    result.reasons += [n for p in placed for n in p.notes]
    if refused is not None:
        result.reasons.append(refused)
    elif 0 < len(placed) < len(plan.faults):
        result.reasons.append(f"{plan.faults[len(placed)].label} never went in: the case closed")
    _aftermath(lab, result, baseline, settings, phase)
    judge(result=result, expected=expected if kind != "control" else expected[:1])
    phase(case_id, result.status)
    return result


class Refused(GamedayError):
    """The lab refused to put a case's first fault in (a blast radius, the kill switch)."""


def _kind(plan: CasePlan, cases: list[Case]) -> schema.CaseKind:
    if plan.kind != "single":
        return "sequence"
    if cases[0].expected.state == "none":
        return "control"
    return "by-hand" if plan.faults[0].by_hand else "chaos"


def _inject_and_watch(
    lab: GamedayLab,
    plan: CasePlan,
    arm: schema.Arm,
    cases: list[Case],
    placed: list[Placed],
    window: float,
    probe: JourneyProbe,
    settings: CaseSettings,
    phase: Phase,
    case_id: str,
) -> str | None:
    """Put the faults in (the second when the sequence says), then wait for the case to
    settle: every incident since the injection closed and users clean, or the window.
    Refused when the first fault is refused; the second's refusal is returned (the first
    stays in and its response is scored)."""
    ttl = window + 300.0  # longer than the case: a TTL never masks the responder
    try:
        placed.append(place(lab, plan.faults[0], ttl_s=ttl))
    except GamedayError as exc:
        raise Refused(str(exc)) from exc
    t0 = placed[0].record.injected_at
    phase(case_id, f"injected {plan.faults[0].label}")
    last_injection, deadline = t0, t0 + window
    wanted, refused = len(plan.faults), None
    quiet = cases[0].expected.state == "none"
    while time.time() < deadline:
        states = _incident_states(lab, t0)
        if len(placed) < wanted and second_fault_due(
            plan=plan, states=states, probe=probe, since=t0, clean_window_s=settings.clean_window_s
        ):
            try:
                second = place(lab, plan.faults[1], ttl_s=ttl)
            except GamedayError as exc:  # the first stays in: its response is still scored
                refused = f"{plan.faults[1].label} never went in: {exc}"
                phase(case_id, f"{plan.faults[1].label} refused")
                wanted = 1
                continue
            second.record.note = _when_second(plan, states, second.record.injected_at - t0)
            placed.append(second)
            last_injection = time.time()
            deadline = max(deadline, last_injection + window * 0.75)
            phase(case_id, f"injected {plan.faults[1].label}")
        phase(case_id, _describe(states))
        if (
            not quiet
            and len(placed) == wanted
            and _settled(
                states,
                probe,
                since=last_injection,
                settings=settings,
                incidents_expected=arm == "agent" and lab.agent is not None,
            )
        ):
            return refused
        time.sleep(1.0)
    return refused


def _when_second(plan: CasePlan, states: dict[str, str], after_s: float) -> str:
    """What the second fault of a sequence went in on, for the record."""
    awaited = {"during-approval": "awaiting_approval", "during-verification": "verifying"}
    want = awaited.get(plan.kind)
    if want is None:
        return f"{plan.kind}, {after_s:.1f} s after the first"
    if want in states.values():
        return f"{plan.kind}: in state {want}, {after_s:.1f} s after the first"
    return f"{plan.kind}: {want} never came; put in after {after_s:.1f} s"


def _incident_states(lab: GamedayLab, since: float) -> dict[str, str]:
    if lab.agent is None:
        return {}
    try:
        return {i["id"]: i["state"] for i in incidents_since(lab, since)}
    except (httpx.HTTPError, ValueError, GamedayError):
        return {}


def _describe(states: dict[str, str]) -> str:
    if not states:
        return "waiting for a response"
    return ", ".join(f"{i[:8]} {s}" for i, s in states.items())


def _settled(
    states: dict[str, str],
    probe: JourneyProbe,
    *,
    since: float,
    settings: CaseSettings,
    incidents_expected: bool,
) -> bool:
    """Every incident closed, users clean for a window, and not too early to tell (the
    lab's own agent: not before it opened an incident)."""
    now = time.time()
    if now - since < settings.settle_s:
        return False
    if any(s not in CLOSED for s in states.values()):
        return False
    journeys = probe.journeys(since=since)
    outage = measure(journeys, since=since, until=now, clean_window_s=settings.clean_window_s)
    hurt = outage.start_s is not None
    if hurt and not outage.recovered:  # the same clean window the report will measure
        return False
    if not hurt and len(probe.journeys(since=now - settings.clean_window_s)) < 2:
        return False
    if states:
        return True
    if incidents_expected:
        return False
    # No incident (nobody, the restart bot, or an external agent without an incident API):
    # users hurt and clean again is the end; never hurt, give a responder time to act.
    return hurt or now - since > QUIET_S


def _observe(
    lab: GamedayLab,
    result: schema.CaseResult,
    expected: list[schema.Expected],
    cases: list[Case],
    baseline: Baseline,
    approver: Approver | None,
    probe: JourneyProbe,
    settings: CaseSettings,
    end: float,
) -> None:
    """Fill in what the responder did and what users saw, before the faults are removed."""
    t0 = result.started_at
    if lab.agent is not None:
        opened = incidents_since(lab, t0)
        details = [incident(lab, i["id"]) for i in opened]
        result.incidents = [_incident(d, t0) for d in details]
        if result.kind != "control" and result.arm == "agent":
            result.diagnosis_correct = False  # judged once the oracles have looked
    result.actions = [
        schema.ActionTaken(
            action=a.action,
            params=a.params,
            outcome=a.outcome,
            at_s=round(a.at - t0, 2),
            verdict="unneeded",
        )
        for a in agent_actions(lab, t0)
    ]
    result.detected_s = _first_alert(lab, result, t0)
    if approver is not None:
        result.approvals = [_approval(a, t0) for a in approver.since(t0)]
        result.approval_wait_s = round(sum(a.wait_s or 0.0 for a in result.approvals), 2)
    result.outage = measure(
        probe.journeys(since=t0, until=end),
        since=t0,
        until=end,
        clean_window_s=settings.clean_window_s,
    )
    result.finished_at = end
    for case in cases:
        if case.expected.state == "none" or case.recovered in ("no_incident",):
            continue
        problems = recovered(lab, case.recovered, baseline, within_s=settings.oracle_within_s)
        if problems and result.faults:
            record = next((f for f in result.faults if f.fault == case.fault), result.faults[0])
            record.left_behind += problems


def _incident(detail: dict[str, object], t0: float) -> schema.Incident:
    def after(name: str) -> float | None:
        moment = when(detail.get(name))
        return None if moment is None else round(moment - t0, 2)

    fault = detail.get("fault")
    return schema.Incident(
        id=str(detail["id"]),
        diagnosis=None if fault is None else str(fault),
        state=str(detail.get("state")),
        detected_s=after("detected_at"),
        diagnosed_s=after("diagnosed_at"),
        mitigated_s=after("mitigated_at"),
        closed_s=after("closed_at"),
        stages=stages_of(detail, t0),
    )


def _first_alert(lab: GamedayLab, result: schema.CaseResult, t0: float) -> float | None:
    """The first alert for the case: the agent's detection, else observability's firing
    alerts that started after the injection (an external responder has no incidents)."""
    seen = [i.detected_s for i in result.incidents if i.detected_s is not None]
    if seen:
        return min(seen)
    try:
        alerts = lab.observability.get("/alerts", timeout=10.0).json()
    except (httpx.HTTPError, ValueError):
        return None
    starts = [when(a.get("startsAt")) for a in alerts if a.get("service") in VICTIMS]
    after = [s - t0 for s in starts if s is not None and s >= t0 - 1.0]
    return round(min(after), 2) if after else None


def _approval(asked: Asked, t0: float) -> schema.Approval:
    answer = asked.answer if asked.answer in ("approved", "denied", "elsewhere") else "unanswered"
    wait = None if asked.answered_at is None else round(asked.answered_at - asked.asked_at, 2)
    return schema.Approval(
        incident=asked.incident,
        asked_s=round(asked.asked_at - t0, 2),
        answered_s=None if asked.answered_at is None else round(asked.answered_at - t0, 2),
        answer=answer,
        wait_s=wait,
    )


def _aftermath(
    lab: GamedayLab,
    result: schema.CaseResult,
    baseline: Baseline,
    settings: CaseSettings,
    phase: Phase,
) -> None:
    """Routes back on their primaries, no seed row lost, the lab steady again."""
    phase(result.id, "cleaning up")
    try:
        restore_primary_routes(lab)
    except GamedayError as exc:
        result.reasons.append(f"routes not restored: {exc}")
    try:
        result.data_lost = rows_lost(lab, baseline)
    except Exception as exc:  # the database down after the case: say so, never guess
        result.data_lost = [f"rows not countable: {type(exc).__name__}"]
    try:
        wait_steady(lab, settings.steady_within_s, f"after {result.id}", incidents=False)
    except NotSteady as exc:
        result.steady_after = False
        result.reasons.append(str(exc))
