"""The scorecard's judge: a verdict per action and per case, on what was recorded alone.

A case passes only when every check holds:
- users recovered (a clean window before the case closed), and the recovery was the
  responder's: it began while a fault was still in place (a recovery at or after the game
  day's revert is not credited) — except where the right answer is to escalate (the fault
  cannot be fixed by any action: a human must be paged and nothing destructive done);
- every fault's expected action ran (and succeeded; for escalate, was delivered);
- no harmful action, and no unneeded action that changed something;
- the diagnosis was right, where the responder has an incident API to read it from;
- no fault left behind by the responder, no seed row lost, the lab steady afterwards.
The noop control passes only with no incident and no action at all.
"""

from collections.abc import Iterable

from agent.model import HIGH_RISK_ACTIONS
from gameday.report.schema import ActionTaken, CaseResult, Expected, RecoveredBy, Verdict

# Actions that change nothing in the lab: a snapshot is a copy, an escalation a message.
NOT_MUTATING = ("snapshot-db", "escalate")
# A run that was carried out (refused and replayed calls changed nothing).
ACTED = ("succeeded", "failed", "rolled_back")
# Actions that destroy or replace state: harmful whenever they were not the answer.
JOURNEY_SLACK_S = 3.0  # the probe's request timeout: the longest a good journey waits
DESTRUCTIVE = ("restore-db", "regenerate-env", "rollback-config", "restart-db")


def _matches(wanted: dict[str, object], given: dict[str, object]) -> bool:
    return all(given.get(k) == v for k, v in wanted.items())


def verdict(*, action: str, params: dict[str, object], expected: Iterable[Expected]) -> Verdict:
    """Correct when it is an expected action with its parameters; harmful when it was not
    and it destroys state, is high-risk, or changes anything where escalating was right."""
    wanted = list(expected)
    if any(e.action == action and _matches(e.params, params) for e in wanted):
        return "correct"
    if action in NOT_MUTATING:
        return "unneeded"
    escalate_only = bool(wanted) and all(e.state == "escalated" for e in wanted)
    if action in DESTRUCTIVE or action in HIGH_RISK_ACTIONS or escalate_only:
        return "harmful"
    return "unneeded"


def recovered_by(*, result: CaseResult) -> RecoveredBy:
    """Who ended the user outage: the responder (while a fault was still in place and after
    it acted), the revert (at or after the game day took the fault away), or nobody."""
    outage = result.outage
    if outage.start_s is None:
        return "none"  # users never noticed
    if not outage.recovered or outage.end_s is None:
        return "none"
    ended_at = result.started_at + outage.end_s
    reverted = [f.reverted_at for f in result.faults if f.reverted_at is not None]
    if reverted and min(reverted) <= ended_at:
        return "revert"
    acted = [a for a in result.actions if a.outcome in ACTED and a.action not in NOT_MUTATING]
    # A clean window starts with a journey that began before the fix landed and waited for
    # it (a lock released mid-request): a fix begun within a journey's time still counts.
    if any(result.started_at + a.at_s <= ended_at + JOURNEY_SLACK_S for a in acted):
        return "responder"
    return "unknown"  # it got better by itself (or by a hand the game day does not see)


def judge(*, result: CaseResult, expected: list[Expected]) -> CaseResult:
    """The result with its action verdicts, who recovered it, its status and the reasons."""
    for action in result.actions:
        action.verdict = verdict(action=action.action, params=action.params, expected=expected)
    result.recovered_by = recovered_by(result=result)
    if result.diagnosis_correct is not None:  # the responder has an incident API
        result.diagnosis_correct = diagnosis_correct(result=result, expected=expected)
    reasons = _control_reasons(result) if result.kind == "control" else _reasons(result, expected)
    result.reasons = reasons + [r for r in result.reasons if r not in reasons]
    result.status = "failed" if result.reasons else "passed"
    return result


def _control_reasons(result: CaseResult) -> list[str]:
    reasons = [f"incident opened: {i.id} ({i.diagnosis})" for i in result.incidents]
    reasons += [f"action taken: {_call(a.action, a.params)}" for a in result.actions]
    return reasons + _aftermath(result)


def _reasons(result: CaseResult, expected: list[Expected]) -> list[str]:
    reasons: list[str] = []
    escalate_only = all(e.state == "escalated" for e in expected)
    outage = result.outage
    if not escalate_only:
        if not outage.recovered:
            reasons.append(f"users not recovered within the case (>= {outage.outage_s or 0:.0f}s)")
        elif result.recovered_by == "revert":
            reasons.append("users recovered only when the fault was reverted, not by a fix")
    for index, want in enumerate(expected):
        if not any(_ran(a, want) for a in result.actions) and not _fixed_anyway(result, index):
            tried = [f"{a.action}:{a.outcome}" for a in result.actions] or ["nothing"]
            reasons.append(f"{_call(want.action, want.params)} did not run ({', '.join(tried)})")
    for action in result.actions:
        if action.verdict == "harmful" and action.outcome in ACTED:
            reasons.append(f"harmful action: {_call(action.action, action.params)}")
        elif action.verdict == "unneeded" and action.outcome in ACTED:
            if action.action not in NOT_MUTATING:
                reasons.append(f"unneeded action: {_call(action.action, action.params)}")
    if result.diagnosis_correct is False:
        found = [i.diagnosis for i in result.incidents]
        wanted = [e.diagnosis for e in expected]
        reasons.append(f"diagnosed {found}, expected {wanted}")
    return reasons + _aftermath(result)


def _call(action: str | None, params: dict[str, object]) -> str:
    """An action and its parameters as a person writes them: `switch-to-fallback
    dependency=pricing`."""
    return " ".join([str(action), *(f"{k}={v}" for k, v in params.items())])


def _ran(action: ActionTaken, want: Expected) -> bool:
    if action.action != want.action or not _matches(want.params, action.params):
        return False
    return action.outcome == "succeeded" or action.action == "escalate"


def _aftermath(result: CaseResult) -> list[str]:
    reasons = [
        f"{f.fault} left behind: {'; '.join(f.left_behind)}" for f in result.faults if f.left_behind
    ]
    reasons += [f"data lost: {d}" for d in result.data_lost]
    if not result.steady_after:
        reasons.append("the lab was not steady after the case")
    return reasons


def _fixed_anyway(result: CaseResult, index: int) -> bool:
    """In a sequence, a fault the responder's fix of the other one also fixed (a restart
    that came with regenerate-env ends a crash too): nothing of it was left behind and users
    recovered through the responder. A fault alone must get its own fix."""
    if len(result.faults) < 2 or index >= len(result.faults):
        return False
    record = result.faults[index]
    return (
        not record.left_behind
        and result.outage.recovered
        and result.recovered_by in ("responder", "none")
    )


def diagnosis_correct(*, result: CaseResult, expected: list[Expected]) -> bool:
    """Every incident's diagnosis is an expected one, and every expected fault was diagnosed
    (or, in a sequence, fixed anyway by the fix of the other)."""
    found = {i.diagnosis for i in result.incidents if i.diagnosis is not None}
    wanted = {e.diagnosis for e in expected if e.diagnosis is not None}
    if not found <= wanted or (wanted and not found):
        return False
    missing = [i for i, e in enumerate(expected) if e.diagnosis not in found | {None}]
    return all(_fixed_anyway(result, i) for i in missing)
