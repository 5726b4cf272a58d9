"""Running a scenario: steady state, steps, rollback of whatever it injected, steady state.

With stop conditions, each is evaluated once before anything is injected (a run whose
condition cannot be evaluated is refused), then watched while the run's faults are open: a
trip reverts what the run injected at once, cuts the current step short and ends the run
`halted` with the condition and what was seen.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaos_server.scenarios.api import ChaosApi, ChaosRefused
from chaos_server.scenarios.model import (
    Check,
    CheckStep,
    InjectStep,
    Probe,
    RevertStep,
    Scenario,
    Step,
    WaitStep,
)
from chaos_server.scenarios.probe import ProbeResult, run_probe
from chaos_server.stop_conditions import Trip, Watcher, preflight, prober

log = logging.getLogger("chaos_server.scenarios")
Status = Literal["passed", "failed", "aborted", "not_restored", "interrupted", "halted", "refused"]
POLL_S = 0.25


@dataclass
class StepResult:
    """One step (or steady-state probe, or rollback) as it went."""

    kind: str
    ok: bool
    detail: str
    took_s: float
    fault: str | None = None


@dataclass
class ScenarioResult:
    """The run: its status, what every step did, the faults it injected."""

    scenario: str
    correlation_id: str
    status: Status = "passed"
    before: list[StepResult] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    rollback: list[StepResult] = field(default_factory=list)
    after: list[StepResult] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    # halted: {condition, detail, after_s since the first injection}; refused: {condition, detail}
    stop: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


OnHalt = Callable[[ScenarioResult, Trip], None]


class _Run:
    """The state of one run: which faults it injected and which are still open.

    The watcher thread halts the run; `lock` guards what both threads change.
    """

    def __init__(
        self,
        scenario: Scenario,
        api: ChaosApi,
        service_urls: dict[str, str],
        correlation_id: str,
        on_halt: OnHalt | None,
    ) -> None:
        self.scenario, self.api, self.urls, self.on_halt = scenario, api, service_urls, on_halt
        self.result = ScenarioResult(scenario.name, correlation_id)
        self.named: dict[str, str] = {}
        self.open: list[str] = []
        self.targets: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()  # set by a halt: waits and polls end early
        self.watched: tuple[str, ...] = ()
        self.watcher: Watcher | None = None
        self.trip: Trip | None = None
        self.first_inject: float | None = None

    def preflight(self) -> bool:
        """Evaluate the stop conditions once; False (the run refused) if one cannot be."""
        conditions = self.scenario.stop_conditions
        if conditions is None:
            return True
        started = time.monotonic()
        checked = preflight(conditions, self.urls)
        self.watched = checked.watched
        took = round(time.monotonic() - started, 3)
        for where, problem in checked.problems:
            self.result.before.append(
                StepResult("stop_condition", False, f"{where}: {problem}", took)
            )
        if not checked.problems:
            return True
        self.result.status = "refused"
        self.result.stop = {
            "condition": checked.problems[0][0],
            "detail": "; ".join(f"{where}: {problem}" for where, problem in checked.problems),
        }
        return False

    def active_targets(self) -> set[str] | None:
        """The targets of every fault this run injected, while one of them is open."""
        with self.lock:
            return set(self.targets) if self.open else None

    def halt(self, trip: Trip) -> None:
        """A stop condition tripped (watcher thread): revert what is open, then say why."""
        with self.lock:
            self.trip = trip
            after = time.monotonic() - (self.first_inject or time.monotonic())
            self.result.stop = {**asdict(trip), "after_s": round(after, 3)}
            faults = list(reversed(self.open))
        self.wake.set()
        data = {"stop_condition": trip.condition, "detail": trip.detail}
        for fault in faults:
            started = time.monotonic()
            problem = self.revert(fault, reason="stop_condition", data=data)
            took = round(time.monotonic() - started, 3)
            with self.lock:
                self.result.rollback.append(
                    StepResult("halt", problem is None, problem or "reverted", took, fault)
                )
        if self.on_halt is not None:
            try:
                self.on_halt(self.result, trip)
            except Exception:  # a failing recorder never breaks the halt it records
                log.exception("recording the halt of %s failed", self.scenario.name)

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    def probe_until(self, probe: Probe, *, want_ok: bool, within_s: float) -> ProbeResult:
        deadline = time.monotonic() + within_s
        while True:
            seen = run_probe(self.urls, probe)
            if seen.ok == want_ok or time.monotonic() >= deadline:
                return seen
            if self.wake.wait(POLL_S):
                return seen

    def hypothesis(self, within_s: float) -> list[StepResult]:
        results = []
        for probe in self.scenario.steady_state:
            started = time.monotonic()
            seen = self.probe_until(probe, want_ok=True, within_s=within_s)
            took = time.monotonic() - started
            results.append(StepResult("steady_state", seen.ok, f"{seen.url}: {seen.detail}", took))
        return results

    def step(self, step: Step) -> StepResult:
        started = time.monotonic()

        def done(kind: str, ok: bool, detail: str, fault: str | None = None) -> StepResult:
            return StepResult(kind, ok, detail, round(time.monotonic() - started, 3), fault)

        if isinstance(step, WaitStep):
            if self.wake.wait(step.wait):
                return done("wait", True, f"cut short of {step.wait:g}s by a stop condition")
            return done("wait", True, f"waited {step.wait:g}s")
        if isinstance(step, CheckStep):
            return self.check(step.check, done)
        if isinstance(step, InjectStep):
            return self.inject(step, done)
        assert isinstance(step, RevertStep)
        ids = list(self.open) if step.revert == "all" else [self.named[step.revert]]
        problems = [problem for fault in ids if (problem := self.revert(fault))]
        return done("revert", not problems, "; ".join(problems) or f"reverted {len(ids)}")

    def check(self, check: Check, done: Callable[..., StepResult]) -> StepResult:
        want_ok = check.expect == "steady"
        seen = self.probe_until(check, want_ok=want_ok, within_s=check.within_s)
        held = seen.ok == want_ok
        what = "steady" if seen.ok else "deviated"
        return done("check", held, f"{seen.url}: {what} ({seen.detail}), expected {check.expect}")

    def inject(self, step: InjectStep, done: Callable[..., StepResult]) -> StepResult:
        spec, limits = step.inject, self.scenario.blast_radius
        if limits.max_concurrent is not None and len(self.open) >= limits.max_concurrent:
            return done("inject", False, f"scenario max_concurrent {limits.max_concurrent} reached")
        try:
            created = self.api.inject(
                spec.fault,
                target=spec.target,
                params=spec.params,
                ttl_s=spec.ttl_s,
                correlation_id=self.result.correlation_id,
            )
        except ChaosRefused as exc:
            return done("inject", False, f"{spec.fault} refused: {exc}")
        fault = str(created["id"])
        with self.lock:
            self.open.append(fault)
            self.result.faults.append(fault)
            self.targets.add(str(created.get("target") or spec.target))
            if self.first_inject is None:
                self.first_inject = time.monotonic()
        if spec.name is not None:
            self.named[spec.name] = fault
        conditions = self.scenario.stop_conditions
        if conditions is not None and self.watcher is None:
            self.watcher = Watcher(
                conditions,
                look=prober(conditions, self.urls, self.watched),
                targets=self.active_targets,
                on_trip=self.halt,
            ).start()
        return done("inject", True, f"{spec.fault} on {created.get('target')}", fault)

    def revert(
        self, fault: str, *, reason: str = "scenario", data: dict[str, Any] | None = None
    ) -> str | None:
        """Revert one of this run's faults; the problem, or None when it is reverted."""
        try:
            row = self.api.revert(fault, reason=reason, data=data)
        except (ChaosRefused, OSError) as exc:
            return f"{fault}: {exc}"
        with self.lock:
            if fault in self.open:
                self.open.remove(fault)
        if row.get("state") == "failed":
            return f"{fault}: revert failed: {row.get('error')}"
        return None

    def rollback(self) -> None:
        with self.lock:
            faults = list(reversed(self.open))
        for fault in faults:
            started = time.monotonic()
            problem = self.revert(fault)
            took = round(time.monotonic() - started, 3)
            self.result.rollback.append(
                StepResult("rollback", problem is None, problem or "reverted", took, fault)
            )


def run_scenario(
    scenario: Scenario,
    api: ChaosApi,
    service_urls: dict[str, str],
    *,
    correlation_id: str | None = None,
    on_halt: OnHalt | None = None,
) -> ScenarioResult:
    """Run `scenario`; whatever it injected is reverted before this returns, even on Ctrl-C.

    `on_halt` is called (from the watcher thread) once a stop condition halted the run.
    """
    run = _Run(scenario, api, service_urls, correlation_id or f"scn-{uuid.uuid4().hex}", on_halt)
    result = run.result
    if not run.preflight():
        return result  # refused: a stop condition that cannot be evaluated protects nothing
    result.before = run.hypothesis(within_s=0)
    if not all(r.ok for r in result.before):
        result.status = "aborted"  # nothing injected into a lab that was not steady
        return result
    try:
        for step in scenario.steps:
            if run.trip is not None:
                break
            outcome = run.step(step)
            result.steps.append(outcome)
            if run.trip is None and not outcome.ok:
                result.status = "failed"
                break
    except KeyboardInterrupt:  # Ctrl-C: roll back, report; a second one leaves it to the TTLs
        result.status = "interrupted"
    finally:
        run.stop_watching()
        run.rollback()
    if result.status == "interrupted":
        return result
    if run.trip is not None:
        result.status = "halted"
        detail = f"stop condition {run.trip.condition}: {run.trip.detail}"
        result.steps.append(StepResult("halt", False, detail, 0.0))
    run.wake.clear()
    result.after = run.hypothesis(within_s=scenario.recovery_s)
    if result.status == "passed" and not all(r.ok for r in result.after):
        result.status = "not_restored"
    log.info("scenario %s %s [%s]", scenario.name, result.status, result.correlation_id)
    return result
