"""Verifying a fix: health back, the symptom's signals gone, held for a sustained window.

Polled once a second: every service of `verification.health` healthy, none of the
verification signals present in the evidence features (nor firing as an alert name), and
none of the incident's own alert names firing, except on a dependency the fix routes around
(`routed_around`: after switch-to-fallback a broken primary upstream stays broken; its owner
fixes it, the incident is mitigated). All of it true for `hold_s` in a row passes;
`mitigated_at` is the start of that passing window. Not within `timeout_s`: failed.

Faults at once: when alerts of the incident that no fix so far explains have fired for
`hold_s` in a row after the fix, the result is `partial`: something else is going on
(agent/verifying.py diagnoses the rest at once, no failure counted). The fix's own checks
are not waited for: a second fault's symptoms often overlap them (a lock keeps the 5xx
ratio up after the upstream outage was routed around). An alert the fixed faults explain,
still firing, only delays the pass: the incident is never resolved while any alert of it
still fires. So does an alert a fault another open incident is fixing explains
(`elsewhere`, asked at every check): that fix clears it, and this incident acts on nothing
for it (a lock's incident took the probe alert of an upstream outage fixed beside it).
"""

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field

from agent.model import Perception, Plan, Verification
from knowledge.runbook import Signal

FEATURE_WINDOW_S = 60.0  # the evidence window while verifying: recent signals only


class VerifyingObservability(Protocol):
    def health(self, services: list[str]) -> dict[str, bool]: ...

    def perceive(self, window_s: float) -> Perception: ...


class VerifyResult(BaseModel):
    """The outcome of one verification, with what still failed at the end if it failed."""

    passed: bool
    started_at: datetime
    finished_at: datetime
    mitigated_at: datetime | None = None
    checks: int = 0
    hold_s: float
    timeout_s: float
    still_failing: list[str] = Field(default_factory=list)
    stopped: bool = False  # the pipeline stopped before an answer
    partial: bool = False  # alerts no fix explains kept firing (still_failing): another fault


# The service a switch-to-fallback of each dependency routes around.
ROUTED_AROUND = {"pricing": "upstream-primary"}


def routed_around(plan: Plan) -> frozenset[str]:
    """Services whose own alerts a plan's fix does not clear, because it avoids them."""
    return routed_around_now((s.action, s.params, True) for s in plan.steps)


def routed_around_now(actions: Iterable[tuple[str, dict[str, Any], bool]]) -> frozenset[str]:
    """Services the incident's switches so far route around: per dependency, the route of
    its last switch that succeeded. `actions`: (action, params, succeeded), oldest first. An
    earlier fix of the same incident keeps its primary routed around while a later fix (of
    another fault at once) is verified: that primary stays broken until its owner fixes it."""
    route: dict[str, str] = {}
    for action, params, succeeded in actions:
        if action == "switch-to-fallback" and succeeded:
            route[params.get("dependency", "pricing")] = params.get("route", "fallback")
    return frozenset(
        ROUTED_AROUND[dep] for dep, to in route.items() if to == "fallback" and dep in ROUTED_AROUND
    )


def failing(
    obs: VerifyingObservability,
    *,
    alertnames: list[str],
    verification: Verification,
    routed_around: frozenset[str] = frozenset(),
) -> list[str]:
    """What is not yet back to normal right now (empty: everything checks out).

    Unreadable evidence is a failure, never "nothing firing"."""
    own, unexplained = failing_split(
        obs,
        alertnames=alertnames,
        verification=verification,
        routed_around=routed_around,
        explained=None,
    )
    return own + unexplained


def failing_split(
    obs: VerifyingObservability,
    *,
    alertnames: list[str],
    verification: Verification,
    routed_around: frozenset[str],
    explained: frozenset[str] | None,
) -> tuple[list[str], list[str]]:
    """(what the fix is about that is not back yet, alerts of the incident no fix explains
    that still fire). `explained` None: every alert of the incident is the fix's own."""
    problems: list[str] = []
    unexplained: list[str] = []
    for service, ok in sorted(obs.health(verification.health).items()):
        if not ok:
            problems.append(f"health: {service} unhealthy")
    perception = obs.perceive(FEATURE_WINDOW_S)
    if perception.errors:
        problems.append(f"evidence unreadable: {'; '.join(perception.errors)[:200]}")
    firing = {
        str(a.get("alertname"))
        for a in perception.alerts
        if a.get("status") == "firing" and a.get("service") not in routed_around
    }
    for name in sorted(firing & (set(alertnames) | set(verification.signals))):
        own = explained is None or name in explained or name in verification.signals
        (problems if own else unexplained).append(f"alert firing: {name}")
    for name in verification.signals:
        if name not in firing and Signal(feature=name, op="present").holds(perception.features):
            problems.append(f"signal present: {name}={perception.features[name]}")
    return problems, unexplained


def verify(
    obs: VerifyingObservability,
    *,
    alertnames: list[str],
    verification: Verification,
    stop: threading.Event,
    routed_around: frozenset[str] = frozenset(),
    explained: frozenset[str] | None = None,
    elsewhere: Callable[[], frozenset[str]] | None = None,
    partial_hold_s: float | None = None,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyResult:
    """Poll until everything holds for hold_s in a row (passed), alerts no fix explains
    fire for hold_s in a row (partial; needs `explained`), timeout_s passes, or `stop` is
    set. `elsewhere`: the alert names other incidents' fixes explain, waited for.
    `partial_hold_s` (at most hold_s): how long unexplained alerts must fire for a partial
    (no fix explains them: waiting the whole hold only delays the second fault's fix)."""
    partial_after = verification.hold_s
    if partial_hold_s is not None:
        partial_after = min(partial_after, partial_hold_s)
    started_wall, started = datetime.now(UTC), clock()
    passing_since: float | None = None
    unexplained_since: float | None = None
    checks, problems = 0, ["not checked yet"]

    def result(passed: bool, *, stopped: bool = False, partial: bool = False) -> VerifyResult:
        mitigated = (
            started_wall + timedelta(seconds=passing_since - started)
            if passed and passing_since is not None
            else None
        )
        return VerifyResult(
            passed=passed,
            started_at=started_wall,
            finished_at=datetime.now(UTC),
            mitigated_at=mitigated,
            checks=checks,
            hold_s=verification.hold_s,
            timeout_s=verification.timeout_s,
            still_failing=[] if passed else problems,
            stopped=stopped,
            partial=partial,
        )

    while True:
        now = clock()
        try:
            known = explained
            if known is not None and elsewhere is not None:
                known = known | elsewhere()
            own, unexplained = failing_split(
                obs,
                alertnames=alertnames,
                verification=verification,
                routed_around=routed_around,
                explained=known,
            )
        except Exception as exc:  # a failing observer: not verified this second, keep going
            own, unexplained = [f"check failed: {type(exc).__name__}"], []
        problems = own + unexplained
        checks += 1
        passing_since = None if problems else (now if passing_since is None else passing_since)
        if not unexplained:
            unexplained_since = None
        elif unexplained_since is None:
            unexplained_since = now
        if passing_since is not None and now - passing_since >= verification.hold_s:
            return result(True)
        if unexplained_since is not None and now - unexplained_since >= partial_after:
            problems = unexplained
            return result(False, partial=True)
        if now - started >= verification.timeout_s:
            return result(False)
        if stop.wait(interval_s):
            return result(False, stopped=True)
