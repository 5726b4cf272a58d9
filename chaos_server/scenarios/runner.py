"""Running a scenario: steady state, steps, rollback of whatever it injected, steady state."""

import logging
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

log = logging.getLogger("chaos_server.scenarios")
Status = Literal["passed", "failed", "aborted", "not_restored", "interrupted"]
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Run:
    """The state of one run: which faults it injected and which are still open."""

    def __init__(
        self,
        scenario: Scenario,
        api: ChaosApi,
        service_urls: dict[str, str],
        correlation_id: str,
        sleep: Callable[[float], None],
    ) -> None:
        self.scenario, self.api, self.urls, self.sleep = scenario, api, service_urls, sleep
        self.result = ScenarioResult(scenario.name, correlation_id)
        self.named: dict[str, str] = {}
        self.open: list[str] = []

    def probe_until(self, probe: Probe, *, want_ok: bool, within_s: float) -> ProbeResult:
        deadline = time.monotonic() + within_s
        while True:
            seen = run_probe(self.urls, probe)
            if seen.ok == want_ok or time.monotonic() >= deadline:
                return seen
            self.sleep(POLL_S)

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
            self.sleep(step.wait)
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
        self.open.append(fault)
        self.result.faults.append(fault)
        if spec.name is not None:
            self.named[spec.name] = fault
        return done("inject", True, f"{spec.fault} on {created.get('target')}", fault)

    def revert(self, fault: str) -> str | None:
        """Revert one of this run's faults; the problem, or None when it is reverted."""
        try:
            row = self.api.revert(fault)
        except (ChaosRefused, OSError) as exc:
            return f"{fault}: {exc}"
        if fault in self.open:
            self.open.remove(fault)
        if row.get("state") == "failed":
            return f"{fault}: revert failed: {row.get('error')}"
        return None

    def rollback(self) -> None:
        for fault in list(reversed(self.open)):
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
    sleep: Callable[[float], None] = time.sleep,
) -> ScenarioResult:
    """Run `scenario`; whatever it injected is reverted before this returns, even on Ctrl-C."""
    run = _Run(scenario, api, service_urls, correlation_id or f"scn-{uuid.uuid4().hex}", sleep)
    result = run.result
    result.before = run.hypothesis(within_s=0)
    if not all(r.ok for r in result.before):
        result.status = "aborted"  # nothing injected into a lab that was not steady
        return result
    try:
        for step in scenario.steps:
            outcome = run.step(step)
            result.steps.append(outcome)
            if not outcome.ok:
                result.status = "failed"
                break
    except KeyboardInterrupt:  # Ctrl-C: roll back, report; a second one leaves it to the TTLs
        result.status = "interrupted"
    finally:
        run.rollback()
    if result.status == "interrupted":
        return result
    result.after = run.hypothesis(within_s=scenario.recovery_s)
    if result.status == "passed" and not all(r.ok for r in result.after):
        result.status = "not_restored"
    log.info("scenario %s %s [%s]", scenario.name, result.status, result.correlation_id)
    return result
