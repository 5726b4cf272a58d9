"""A game-day plan: which cases, in what order, with what gaps, repeats and approvals.

From the command line (`--faults`) or a YAML file (`--scenario`). A file that does not
validate is refused whole, with the line and the field that are wrong.
"""

import random
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gameday.cases import load_cases
from gameday.out_of_band import MAKERS
from gameday.report.schema import Arm

SequenceKind = Literal[
    "single", "concurrent", "back-to-back", "during-approval", "during-verification"
]
ApproveMode = Literal["auto", "manual", "deny"]


class PlanError(ValueError):
    """The plan is not valid; the message says where and why."""


class FaultStep(BaseModel):
    """One fault of a case: a catalogue fault through the chaos server, or made by hand."""

    model_config = ConfigDict(extra="forbid")

    fault: str | None = None  # a catalogue fault id (chaos-made)
    by_hand: str | None = None  # an out-of-band maker (psql-lock, sigstop, ...)
    params: dict[str, object] = Field(default_factory=dict)
    target: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "FaultStep":
        if (self.fault is None) == (self.by_hand is None):
            raise ValueError("give exactly one of fault or by_hand")
        if self.by_hand is not None and self.by_hand not in MAKERS:
            raise ValueError(f"unknown by_hand maker {self.by_hand!r}; known: {sorted(MAKERS)}")
        if self.fault is not None and self.fault not in _catalogue():
            raise ValueError(f"unknown fault {self.fault!r}; known: {sorted(_catalogue())}")
        if self.by_hand is not None and (self.params or self.target):
            raise ValueError("a fault made by hand takes no params or target")
        return self

    @property
    def catalogue_fault(self) -> str:
        """The catalogue fault this step amounts to."""
        if self.by_hand is not None:
            return MAKERS[self.by_hand]().fault
        assert self.fault is not None
        return self.fault

    @property
    def label(self) -> str:
        return f"{self.by_hand} ({self.catalogue_fault})" if self.by_hand else str(self.fault)


def _step(value: object) -> object:
    """A bare string is a chaos fault id; `by-hand:NAME` a fault made by hand."""
    if isinstance(value, str):
        if value.startswith("by-hand:"):
            return {"by_hand": value.removeprefix("by-hand:")}
        return {"fault": value}
    return value


class CasePlan(BaseModel):
    """One case: one fault, or a sequence of two that real chaos produces."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: SequenceKind = "single"
    faults: Annotated[list[FaultStep], Field(min_length=1, max_length=2)]
    gap_s: float = Field(20.0, ge=0, le=600)  # back-to-back: after the first is fixed
    window_s: float | None = Field(None, gt=0, le=1800)  # default: the cases' timeouts
    repeat: int = Field(1, ge=1, le=20)
    arms: list[Arm] | None = None  # default: the plan's arms

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)
            if "fault" in data or "by_hand" in data:
                one = {
                    k: data.pop(k) for k in ("fault", "by_hand", "params", "target") if k in data
                }
                data["faults"] = [one]
            if isinstance(data.get("faults"), list):
                data["faults"] = [_step(f) for f in data["faults"]]
        return data

    @model_validator(mode="after")
    def _count(self) -> "CasePlan":
        if (self.kind == "single") != (len(self.faults) == 1):
            raise ValueError(
                f"kind {self.kind} takes {'one fault' if self.kind == 'single' else 'two faults'}"
            )
        return self

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        if self.kind == "single":
            return self.faults[0].label
        return f"{self.kind}: {' + '.join(f.label for f in self.faults)}"


class GamedayPlan(BaseModel):
    """The whole game day."""

    model_config = ConfigDict(extra="forbid")

    name: str = "game day"
    cases: Annotated[list[CasePlan], Field(min_length=1, max_length=200)]
    arms: list[Arm] = Field(default_factory=lambda: list[Arm](["agent"]))
    approve: ApproveMode = "auto"
    think_time_s: float = Field(5.0, ge=0, le=600)
    gap_s: float = Field(3.0, ge=0, le=600)  # between cases
    clean_window_s: float = Field(5.0, gt=0, le=120)
    # The window of the arms that do not respond on purpose (none, restart-only): their
    # outage is then censored at it, a lower bound ("at least"), which keeps a day short.
    baseline_window_s: float = Field(60.0, gt=0, le=1800)
    repeat: int = Field(1, ge=1, le=20)

    @model_validator(mode="after")
    def _distinct_titles(self) -> "GamedayPlan":
        """Case ids come from titles: a fault named twice gets `(2)`, `(3)`..."""
        seen: dict[str, int] = {}
        for case in self.cases:
            title = case.title
            seen[title] = seen.get(title, 0) + 1
            if seen[title] > 1:
                case.name = f"{title} ({seen[title]})"
        return self


@cache
def _catalogue() -> frozenset[str]:
    """The catalogue's fault ids (the case files, read once per process)."""
    return frozenset(c.fault for c in load_cases())


def from_faults(spec: str) -> list[CasePlan]:
    """`all`, or comma-separated ids: catalogue faults, or `by-hand:NAME`; `by-hand` alone
    for every fault made by hand."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise PlanError("--faults: give `all` or fault ids separated by commas")
    steps: list[object] = []
    for name in names:
        if name == "all":
            steps += sorted(_catalogue())
        elif name == "by-hand":
            steps += [f"by-hand:{m}" for m in MAKERS]
        else:
            steps.append(name)
    cases = []
    for step in steps:
        try:
            cases.append(CasePlan.model_validate({"faults": [step]}))
        except ValidationError as exc:
            raise PlanError(f"--faults: {step}: {_first_message(exc)}") from None
    return cases


def monkey_cases(*, rng: random.Random, count: int, faults: list[str]) -> list[CasePlan]:
    """`count` cases of random faults from `faults` (the monkey's picks)."""
    return [CasePlan.model_validate({"faults": [rng.choice(faults)]}) for _ in range(count)]


def _first_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return str(error["msg"]).removeprefix("Value error, ")


def load_plan(path: Path) -> GamedayPlan:
    """The plan in a YAML file, or PlanError naming the line and the field."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanError(f"{path}: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not YAML: {exc}") from None
    try:
        return GamedayPlan.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [
            p
            for p in error["loc"]
            if not (isinstance(p, str) and p.startswith(("function-", "list[")))
        ]
        line = _line_of(node, loc)
        where = ".".join(str(p) for p in loc) or "(top level)"
        msg = str(error["msg"]).removeprefix("Value error, ")
        raise PlanError(f"{path}:{line}: {where}: {msg}") from None


def _synthetic(part: object) -> bool:
    """Pydantic's validator names in an error's location, which are no YAML key."""
    return isinstance(part, str) and part.startswith(("function-", "list["))


def _line_of(node: yaml.Node | None, loc: list[int | str]) -> int:
    """The 1-based line of the deepest node that `loc` reaches in the YAML tree."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if getattr(k, "value", None) == part]
            if not found:
                break
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line
