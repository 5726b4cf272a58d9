"""The rule file: declarative YAML rules, validated, with errors that name the rule.

Every rule watches one metric of the canonical vocabulary (observability.model) per series
(service + sample labels); its `kind` says how the recent window is judged. The `faults`
list says which catalogue faults the rule is meant to catch (documentation the tests read).
"""

import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["critical", "warning", "info"]
TEMPLATE_FIELDS = frozenset(
    {"service", "value", "threshold", "window_s", "for_s", "k", "n", "baseline", "labels"}
)
AlertName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file, the rule and the field."""


def _check_template(text: str) -> None:
    for _, field, _, _ in string.Formatter().parse(text):
        if field is None:
            continue
        root = field.split(".")[0].split("[")[0]
        if root not in TEMPLATE_FIELDS:
            raise ValueError(
                f"template field {{{field}}} unknown (use {', '.join(sorted(TEMPLATE_FIELDS))})"
            )


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: AlertName
    metric: str = Field(min_length=1)
    services: list[str] | None = None  # None: every service that reports the metric
    match: dict[str, str] = Field(default_factory=dict)  # labels a series must carry
    severity: Severity = "warning"
    for_s: float = Field(0.0, ge=0)
    summary: str = Field(min_length=1)
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    faults: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _templates(self) -> "_Rule":
        _check_template(self.summary)
        _check_template(self.description)
        reserved = {"alertname", "service", "severity"} & set(self.labels)
        if reserved:
            raise ValueError(f"labels may not set {sorted(reserved)}: the rule sets them")
        return self


class ThresholdRule(_Rule):
    """The newest sample compared with `value`, held for `for_s`."""

    kind: Literal["threshold"]
    op: Op
    value: float


class RatioRule(_Rule):
    """The window's mean of `metric` (or of `metric` over `denominator`) compared with `value`."""

    kind: Literal["ratio"]
    denominator: str | None = None
    window_s: float = Field(gt=0)
    op: Op
    value: float
    min_samples: int = Field(1, ge=1)


class QuantileRule(_Rule):
    """The `q` quantile of the window's samples compared with `value`."""

    kind: Literal["quantile"]
    q: float = Field(ge=0, le=1)
    window_s: float = Field(gt=0)
    op: Op
    value: float
    min_samples: int = Field(1, ge=1)


class KOfNRule(_Rule):
    """At least `k` of the last `n` samples fail (`metric op value`); a missing one fails too
    when `missing_is_failure`, once the series has been seen."""

    kind: Literal["k_of_n"]
    op: Op = "=="
    value: float = 0.0
    k: int = Field(ge=1)
    n: int = Field(ge=1)
    missing_is_failure: bool = True

    @model_validator(mode="after")
    def _k_le_n(self) -> "KOfNRule":
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        return self


class IncreaseRule(_Rule):
    """How much `metric` rose over the window: a counter (resets handled, a new series starts
    at zero) or, with `counter: false`, a gauge (newest less oldest)."""

    kind: Literal["increase"]
    window_s: float = Field(gt=0)
    op: Op = ">="
    value: float
    counter: bool = True


class BaselineRule(_Rule):
    """The newest sample against a baseline learned while the rule holds (a slow moving
    average with time constant `tau_s`): a `drop` or `rise` by a `fraction` or an `amount`."""

    kind: Literal["baseline"]
    direction: Literal["drop", "rise"]
    fraction: float | None = Field(None, gt=0)
    amount: float | None = Field(None, gt=0)
    tau_s: float = Field(300.0, gt=0)
    min_baseline: float = 0.0

    @model_validator(mode="after")
    def _one_bound(self) -> "BaselineRule":
        if (self.fraction is None) == (self.amount is None):
            raise ValueError("give exactly one of fraction and amount")
        return self


Rule = Annotated[
    ThresholdRule | RatioRule | QuantileRule | KOfNRule | IncreaseRule | BaselineRule,
    Field(discriminator="kind"),
]


class RuleFile(BaseModel):
    """A whole rule file: the sampling interval it assumes and its rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float = Field(1.0, gt=0)  # the collection interval the rules assume
    stale_after_s: float = Field(5.0, gt=0)  # a newest sample older than this is no data
    no_data_resolve_s: float = Field(30.0, ge=0)  # a firing alert with no data resolves after
    keep_firing_for_s: float = Field(0.0, ge=0)  # a firing alert resolves after this long quiet
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self) -> "RuleFile":
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return self


def _describe(exc: ValidationError, data: Any, source: str) -> str:
    raw = data.get("rules") if isinstance(data, dict) else None
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = "file"
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            index = loc[1]
            entry = raw[index] if isinstance(raw, list) and index < len(raw) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"rule {name!r} (#{index + 1})" if name else f"rule #{index + 1}"
            # A discriminated union puts the kind in the path: rules.3.threshold.value.
            loc = loc[3:] if len(loc) > 2 and loc[2] in _KINDS else loc[2:]
        field = ".".join(str(p) for p in loc) or "-"
        lines.append(f"{where}: {field}: {err['msg']}")
    return f"{source}: " + "; ".join(lines)


_KINDS = ("threshold", "ratio", "quantile", "k_of_n", "increase", "baseline")


def parse_rules(data: Any, source: str = "rules") -> RuleFile:
    """Validate already-loaded YAML data; RuleError names the rule and field at fault."""
    try:
        return RuleFile.model_validate(data)
    except ValidationError as exc:
        raise RuleError(_describe(exc, data, source)) from None


def load_rules(path: Path) -> RuleFile:
    """Read and validate a rule file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: {exc}") from None
    return parse_rules(data, str(path))
