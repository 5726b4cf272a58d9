"""The scenario file format, validated with line-free but exact error locations."""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaos_server.scenarios.cron import parse_cron

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
MAX_WAIT_S = 600.0
# The user-facing HTTP services a stop condition's journey may probe: never the lab's own
# services (the agent's data above all), only the victims a user would call.
JOURNEY_SERVICES = ("target", "upstream-primary", "upstream-fallback")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Probe(_Strict):
    """An HTTP probe of a lab service: the status it must answer, and how fast."""

    service: Name = "target"
    path: str = Field("/ready", pattern=r"^/[^\s]*$", max_length=512)
    expect_status: int = Field(200, ge=100, le=599)
    max_latency_ms: float | None = Field(2000.0, gt=0)
    timeout_s: float = Field(5.0, gt=0, le=60)


class Check(Probe):
    """A steady-state check as a step: it must hold (or deviate) within `within_s`."""

    expect: Literal["steady", "deviated"] = "steady"
    within_s: float = Field(0.0, ge=0, le=MAX_WAIT_S)


class Inject(_Strict):
    """A fault to inject, named with `as` so later steps can revert it."""

    fault: Name
    target: Name | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    ttl_s: float | None = Field(None, gt=0)
    name: Name | None = Field(None, alias="as")


class InjectStep(_Strict):
    inject: Inject


class WaitStep(_Strict):
    wait: float = Field(gt=0, le=MAX_WAIT_S)


class CheckStep(_Strict):
    check: Check


class RevertStep(_Strict):
    revert: Name  # the `as` name of an injected fault, or "all"


Step = InjectStep | WaitStep | CheckStep | RevertStep


class BlastRadius(_Strict):
    """Limits for this scenario; they only tighten the chaos server's own, never loosen them."""

    allowlist: list[Name] | None = None
    max_ttl_s: float | None = Field(None, gt=0)
    max_concurrent: int | None = Field(None, ge=1)


def _default_journey() -> list[Probe]:
    return [Probe(path="/products", max_latency_ms=None)]


class StopConditions(_Strict):
    """When a run halts itself and reverts what it injected (AWS FIS stop conditions)."""

    # The user journey probed every interval_s; a probe fails on a wrong status, no answer
    # or (when it sets one) its own max_latency_ms.
    journey: list[Probe] = Field(default_factory=_default_journey, min_length=1, max_length=5)
    interval_s: float = Field(1.0, ge=0.2, le=60)
    window_s: float = Field(30.0, gt=0, le=MAX_WAIT_S)
    min_samples: int = Field(3, ge=1, le=10_000)  # journey probes in the window before judging
    error_ratio: float | None = Field(None, ge=0, lt=1)  # halt above this share of failures
    latency_ms: float | None = Field(None, gt=0)  # halt when latency_stat is above this
    latency_stat: Literal["p95", "max"] = "p95"
    # Services that must stay healthy (those the run's faults target excepted), or any_other:
    # every lab service that was healthy when the run started.
    unhealthy_services: list[Name] | Literal["any_other"] | None = None
    max_outage_s: float | None = Field(None, gt=0, le=3600)  # the journey failing throughout

    @field_validator("journey")
    @classmethod
    def _user_facing(cls, journey: list[Probe]) -> list[Probe]:
        for index, probe in enumerate(journey):
            if probe.service not in JOURNEY_SERVICES:
                raise ValueError(
                    f"journey[{index}]: service {probe.service!r} is not user-facing;"
                    f" one of {', '.join(JOURNEY_SERVICES)}"
                )
        return journey

    @model_validator(mode="after")
    def _judgeable(self) -> "StopConditions":
        bounds = ("error_ratio", "latency_ms", "unhealthy_services", "max_outage_s")
        if all(getattr(self, name) is None for name in bounds):
            raise ValueError(f"set at least one of {', '.join(bounds)}")
        most = len(self.journey) * (self.window_s / self.interval_s + 1)
        if self.min_samples > most:
            raise ValueError(
                f"min_samples: {self.min_samples} journey probes never fit in window_s"
                f" {self.window_s:g} at interval_s {self.interval_s:g} (at most {most:.0f})"
            )
        return self


class Scenario(_Strict):
    """A chaos experiment: a steady state, the steps, an optional cron schedule."""

    name: Name
    description: str = Field("", max_length=2000)
    schedule: str | None = None  # cron: 5 fields, or 6 with seconds first
    blast_radius: BlastRadius = BlastRadius()
    steady_state: list[Probe] = Field(default_factory=list, max_length=20)
    steps: list[Step] = Field(min_length=1, max_length=100)
    recovery_s: float = Field(60.0, ge=0, le=MAX_WAIT_S)  # for the steady state after rollback
    stop_conditions: StopConditions | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value)  # raises ValueError naming the bad field
        return value

    @model_validator(mode="after")
    def _names(self) -> "Scenario":
        injected: set[str] = set()
        limits = self.blast_radius
        for index, step in enumerate(self.steps):
            if isinstance(step, InjectStep):
                _within(limits, step.inject, f"steps[{index}]")
            if isinstance(step, InjectStep) and step.inject.name is not None:
                if step.inject.name in injected or step.inject.name == "all":
                    raise ValueError(f"steps[{index}]: name {step.inject.name!r} used twice")
                injected.add(step.inject.name)
            if isinstance(step, RevertStep) and step.revert != "all":
                if step.revert not in injected:
                    raise ValueError(
                        f"steps[{index}]: revert {step.revert!r} names no earlier inject"
                    )
        return self


def _within(limits: BlastRadius, inject: Inject, where: str) -> None:
    """An inject step outside the scenario's own blast radius is refused before any run."""
    if limits.allowlist is not None and inject.target not in limits.allowlist:
        raise ValueError(
            f"{where}: target {inject.target!r} is not on the scenario's allowlist"
            " (with an allowlist, every inject names its target)"
        )
    if limits.max_ttl_s is not None and (inject.ttl_s is None or inject.ttl_s > limits.max_ttl_s):
        raise ValueError(
            f"{where}: ttl_s {inject.ttl_s} is over the scenario's max_ttl_s {limits.max_ttl_s}"
            " (with max_ttl_s, every inject sets ttl_s)"
        )


def parse_scenario(data: Any, *, source: str = "<scenario>") -> Scenario:
    """A validated scenario from parsed YAML/JSON data."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping, not {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {describe(exc, 'scenario')}") from None


def describe(exc: ValidationError, whole: str) -> str:
    """Every problem with the dotted path of the field it is in (`whole` for the model's own)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in exc.errors())


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, source=str(path))


def load_dir(directory: Path) -> tuple[list[Scenario], list[str]]:
    """Every `*.yaml`/`*.yml` scenario in `directory`, and the errors of those that failed."""
    scenarios: list[Scenario] = []
    errors: list[str] = []
    if not directory.is_dir():
        return scenarios, errors
    names: set[str] = set()
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            errors.append(str(exc))
            continue
        if scenario.name in names:
            errors.append(f"{path}: scenario name {scenario.name!r} is used by another file")
            continue
        names.add(scenario.name)
        scenarios.append(scenario)
    return scenarios, errors
