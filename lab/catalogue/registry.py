"""The catalogue registry: lab/catalogue/catalogue.yaml loaded into typed, checked entries.

It imports no service: the agent's policy, the game day and the CLI read their lists of
faults and actions from it. Whether the rest of the tree agrees with it (chaos fault
classes, rules, runbooks, cases, the action server's catalogue) is lab.catalogue.completeness.
"""

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue.yaml"
NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"

FaultClass = Literal["api", "compute", "dependency", "network", "db", "config", "control"]
Risk = Literal["low", "medium", "high"]


class CatalogueAction(BaseModel):
    """One action: its name, its risk, whether the action server can undo it, and whether it
    restarts a service (its restart then sets off alerts of its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    risk: Risk
    undo: bool
    restarts: bool = False


class CatalogueFault(BaseModel):
    """One fault: how it is injected, what should see it, and the right response."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=NAME)
    fault_class: FaultClass = Field(alias="class")
    target: str = Field(pattern=NAME)  # the chaos fault's default target
    mechanism: str = Field(min_length=3, max_length=120)
    alerts: dict[str, list[str]] = Field(default_factory=dict)  # service -> rule names
    runbook: str | None = Field(None, pattern=NAME)
    action: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    case: str = Field(pattern=NAME)

    @model_validator(mode="after")
    def _control_has_no_response(self) -> "CatalogueFault":
        control = self.fault_class == "control"
        response = (bool(self.alerts), self.runbook is not None, self.action is not None)
        if control and any(response):
            raise ValueError(f"{self.id}: a control fault has no alerts, runbook or action")
        if not control and not all(response):
            raise ValueError(f"{self.id}: needs alerts, a runbook and an action")
        if any(not rules for rules in self.alerts.values()):
            raise ValueError(f"{self.id}: a service under alerts names no rule")
        return self

    @property
    def meant(self) -> set[tuple[str, str]]:
        """The (rule, service) alerts any one of which detects the fault."""
        return {(rule, svc) for svc, rules in self.alerts.items() for rule in rules}

    @property
    def rules(self) -> list[str]:
        """The names of the rules expected to fire, each once, in declared order."""
        return list(dict.fromkeys(rule for rules in self.alerts.values() for rule in rules))


class Catalogue(BaseModel):
    """Every fault and every action, each declared once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: list[CatalogueFault] = Field(min_length=1)
    actions: list[CatalogueAction] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Catalogue":
        for kind, names in (
            ("fault", [f.id for f in self.faults]),
            ("action", [a.name for a in self.actions]),
            ("case", [f.case for f in self.faults]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} declared twice: {', '.join(twice)}")
        known = set(self.action_names)
        for fault in self.faults:
            if fault.action is not None and fault.action not in known:
                raise ValueError(f"{fault.id}: its action {fault.action!r} is not in actions")
        return self

    @property
    def fault_ids(self) -> tuple[str, ...]:
        """Every fault id, controls included, in declared order."""
        return tuple(f.id for f in self.faults)

    @property
    def action_names(self) -> tuple[str, ...]:
        """Every action name, in declared order."""
        return tuple(a.name for a in self.actions)

    @property
    def high_risk_actions(self) -> tuple[str, ...]:
        """The actions the policy holds for a human's approval by default."""
        return tuple(a.name for a in self.actions if a.risk == "high")

    def fault(self, fault_id: str) -> CatalogueFault:
        """The fault with this id (KeyError when there is none)."""
        for fault in self.faults:
            if fault.id == fault_id:
                return fault
        raise KeyError(fault_id)

    def action(self, name: str) -> CatalogueAction:
        """The action with this name (KeyError when there is none)."""
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)


def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue in `path`, validated (ValueError naming what is wrong)."""
    raw = yaml.safe_load(path.read_text())
    return Catalogue.model_validate(raw)


@cache
def get_catalogue() -> Catalogue:
    """The lab's catalogue, read once."""
    return load_catalogue()
