"""Cases as data: `gameday/cases/<fault>.yaml`, one per catalogue fault + noop.

The game day and the evaluations (tests/evals) read the same cases: what a right response
to each fault is, and how recovery is proven.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agent.model import CATALOGUE_ACTIONS

CASES_DIR = Path(__file__).resolve().parent / "cases"

# The recovery oracles a case may name (gameday/oracles.py implements each).
OracleName = Literal[
    "probe",
    "memory_baseline",
    "latency_baseline",
    "error_ratio_baseline",
    "pricing_ok",
    "table_readable",
    "rows_back",
    "alembic_head",
    "free_space",
    "escalated",
    "no_incident",
]


class Expected(BaseModel):
    """What the agent must reach: its diagnosis, the one action it runs, the end state."""

    model_config = ConfigDict(extra="forbid")

    diagnosis: str | None
    action: str | None
    params: dict[str, Any] = Field(default_factory=dict)  # a subset of the action's params
    state: Literal["resolved", "escalated", "none"]


class Case(BaseModel):
    """One evaluation: the fault to inject, what is expected, and how recovery is proven."""

    model_config = ConfigDict(extra="forbid")

    name: str
    fault: str
    target: str | None = None  # the chaos server's default target when None
    params: dict[str, Any] = Field(default_factory=dict)
    expected: Expected
    recovered: OracleName
    timeout_s: float = Field(gt=0, le=600)

    def check(self) -> None:
        """The expected action is a catalogue action, and noop expects nothing."""
        action = self.expected.action
        if action is not None and action not in CATALOGUE_ACTIONS:
            raise ValueError(f"{self.name}: {action!r} is not a catalogue action")
        if (self.expected.state == "none") != (action is None):
            raise ValueError(f"{self.name}: state none goes with no action, and only then")


def load_case(name: str, root: Path = CASES_DIR) -> Case:
    """The case in `root/<name>.yaml`, named after the file."""
    raw = yaml.safe_load((root / f"{name}.yaml").read_text())
    case = Case.model_validate({"name": name, **raw})
    case.check()
    return case


def load_cases(root: Path = CASES_DIR) -> list[Case]:
    """Every case under `root`, by name."""
    return [load_case(p.stem, root) for p in sorted(root.glob("*.yaml"))]
