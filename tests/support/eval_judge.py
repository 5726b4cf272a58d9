"""Judging the agent on one fault: the incident it opened after the injection, what it
concluded, the action it took, the actions it should not have taken, and the state it
ended in."""

import time
from typing import Any

from gameday.cases import Expected
from gameday.incidents import (
    ActionSeen,
    agent_actions,
    incidents_since,
    mutating,
    wait_closed,
)
from tests.support.eval_lab import SLACK_PATH, EvalLab
from tests.support.eval_timings import CaseRun


def _matches(wanted: dict[str, Any], given: dict[str, Any]) -> bool:
    return all(given.get(k) == v for k, v in wanted.items())


def expected_ran(expected: Expected, seen: list[ActionSeen]) -> list[ActionSeen]:
    """The calls of the expected action with the expected parameters that the action
    server ran through (succeeded; for escalate, any run: delivery is the oracle's)."""
    return [
        a
        for a in seen
        if a.action == expected.action
        and _matches(expected.params, a.params)
        and (a.outcome == "succeeded" or a.action == "escalate")
    ]


def judge(
    lab: EvalLab, *, expected: Expected, injected_at: float, within_s: float, run: CaseRun
) -> list[str]:
    """Wait for the incidents opened since the injection to close, then what is wrong."""
    closed = wait_closed(lab, injected_at, within_s)
    seen = agent_actions(lab, injected_at)
    incident = next((i for i in closed if i.get("fault") == expected.diagnosis), closed[0])
    run.record(incident, seen, injected_at)
    problems: list[str] = []
    if incident.get("fault") != expected.diagnosis:
        faults = [(i["id"], i.get("fault"), i["state"]) for i in closed]
        problems.append(f"diagnosed {faults}, expected {expected.diagnosis}")
    if incident["state"] != expected.state:
        problems.append(f"incident {incident['id']} {incident['state']}, expected {expected.state}")
    if not expected_ran(expected, seen):
        calls = [(a.action, a.params, a.outcome) for a in seen]
        problems.append(f"{expected.action} {expected.params or ''} did not run: {calls}")
    problems += detected_by_a_meant_alert(lab, incident, run)
    if expected.state == "escalated" and not lab.receiver.received.get(SLACK_PATH):
        problems.append("no escalation delivered to the Slack webhook")
    false = [a for a in mutating(seen) if a.action != expected.action]
    if false:
        problems.append(f"false actions: {[(a.action, a.params, a.outcome) for a in false]}")
    return problems


def judge_quiet(lab: EvalLab, *, since: float, for_s: float, run: CaseRun) -> list[str]:
    """Nothing happens: no incident opened and no action taken for `for_s` seconds."""
    time.sleep(for_s)
    opened = incidents_since(lab, since)
    seen = agent_actions(lab, since)
    run.actions = [f"{a.action}:{a.outcome}" for a in seen]
    if opened:
        run.incident, run.fault, run.state = opened[0]["id"], opened[0].get("fault"), "opened"
    problems = [f"incident opened: {(i['id'], i.get('fault'), i['state'])}" for i in opened]
    problems += [f"action taken: {(a.action, a.params)}" for a in seen]
    return problems


def detected_by_a_meant_alert(lab: EvalLab, incident: dict[str, Any], run: CaseRun) -> list[str]:
    """The incident rests on an alert meant for the fault (observability's rules, the mapping
    of tests/support/detection.py): detection, checked on every case."""
    from tests.support.detection import MEANT

    meant = MEANT.get(run.case)
    if meant is None or lab.agent is None:
        return []
    detail = lab.agent.get(f"/incidents/{incident['id']}").json()
    alerts = {(a["alertname"], a.get("service")) for a in detail.get("alerts", [])}
    if alerts & meant:
        return []
    return [f"no alert meant for {run.case} among the incident's {sorted(alerts)}"]
