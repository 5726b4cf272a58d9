"""The pieces the catalogue is checked against, read from the repository as plain data.

Unlike the registry this sits on top of the services (as the CLI does): it asks the chaos
server and the action server for their catalogues, and reads the detector's rules, the
runbooks' front matter and the eval cases as files, without their loaders' own checks, so
that a runbook or case naming an unknown action is reported as a gap rather than raised.
"""

import re
from pathlib import Path
from typing import Any

import yaml

from action_server.actions import CATALOGUE as ACTION_SPECS
from chaos_server.faults import build_catalogue
from gameday.cases import CASES_DIR
from knowledge.runbook import RUNBOOK_DIR
from lab.catalogue.completeness import Tree, TreeAction, TreeCase, TreeFault, TreeRunbook, TreeStep
from observability.config import PACKAGE as OBSERVABILITY_DIR

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def read_tree() -> Tree:
    """The chaos faults, actions, rules, runbooks and cases of this checkout."""
    return Tree(
        chaos_faults={
            fault.id: TreeFault(fault.fault_class, tuple(fault.targets))
            for fault in build_catalogue().values()
        },
        actions={
            spec.name: TreeAction(
                spec.risk.value, spec.revert is not None, set(spec.params.model_fields)
            )
            for spec in ACTION_SPECS.values()
        },
        rules=read_rules(OBSERVABILITY_DIR / "rules.yaml"),
        runbooks=read_runbooks(RUNBOOK_DIR),
        cases=read_cases(CASES_DIR),
    )


def read_rules(path: Path) -> dict[str, list[str]]:
    """Each rule's name and the faults it lists."""
    rules = yaml.safe_load(path.read_text())["rules"]
    return {rule["name"]: list(rule.get("faults") or []) for rule in rules}


def read_runbooks(directory: Path) -> dict[str, TreeRunbook]:
    """Each runbook's faults and action steps, by id (README.md excepted)."""
    books: dict[str, TreeRunbook] = {}
    for path in sorted(directory.glob("*.md")):
        match = _FRONT_MATTER.match(path.read_text(encoding="utf-8").replace("\r\n", "\n"))
        if path.name == "README.md" or match is None:
            continue
        meta: dict[str, Any] = yaml.safe_load(match.group(1))
        steps = [
            TreeStep(step["action"], dict(step.get("params") or {}), step.get("risk", "low"))
            for step in meta.get("actions") or []
        ]
        books[meta["id"]] = TreeRunbook(list(meta.get("faults") or []), steps)
    return books


def read_cases(directory: Path) -> dict[str, TreeCase]:
    """Each eval case's fault and expected action, by name (its file's stem)."""
    cases: dict[str, TreeCase] = {}
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        expected = raw.get("expected") or {}
        cases[path.stem] = TreeCase(
            raw["fault"], expected.get("action"), dict(expected.get("params") or {})
        )
    return cases
