"""Whether the tree has every piece the catalogue asks for: the list of gaps, by name.

`find_gaps` is pure: it compares the registry with a `Tree`, the pieces as found in the
repository (breakfix.catalogue_tree reads them), so a test can damage either in memory and see
the one gap it made. Each fault needs its chaos fault class (same class and default target),
each rule expected to fire listing it in observability/rules.yaml, its runbook naming it with
the correct action first, and its eval case expecting that action; the actions are those of
the action server's catalogue (same risk and undo), and nothing the tree names is unknown.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.catalogue.registry import Catalogue, CatalogueAction, CatalogueFault

Piece = Literal["chaos-fault", "rule", "runbook", "case", "action-server", "registry"]
RULES_FILE = "observability/rules.yaml"


@dataclass(frozen=True, order=True)
class Gap:
    """One missing or disagreeing piece: the fault or action it is about, and where."""

    subject: str  # a fault id, an action name, or a case name no fault declares
    piece: Piece
    detail: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.piece}: {self.detail}"


@dataclass
class TreeFault:
    """A chaos fault class as chaos_server.faults.build_catalogue() has it."""

    fault_class: str
    targets: tuple[str, ...]


@dataclass
class TreeAction:
    """An action as the action server's catalogue has it."""

    risk: str
    undo: bool
    params: set[str] = field(default_factory=set)


@dataclass
class TreeStep:
    """One action step of a runbook's front matter."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    risk: str = "low"


@dataclass
class TreeRunbook:
    """A runbook's front matter: the faults it covers and its ordered actions."""

    faults: list[str] = field(default_factory=list)
    steps: list[TreeStep] = field(default_factory=list)


@dataclass
class TreeCase:
    """An eval case: the fault it injects and the action it expects."""

    fault: str
    action: str | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tree:
    """Every piece the catalogue is checked against, as plain data."""

    chaos_faults: dict[str, TreeFault]
    actions: dict[str, TreeAction]
    rules: dict[str, list[str]]  # rule name -> the faults it lists
    runbooks: dict[str, TreeRunbook]
    cases: dict[str, TreeCase]


def find_gaps(catalogue: Catalogue, tree: Tree) -> list[Gap]:
    """Every gap between the catalogue and the tree, sorted; empty when they agree."""
    gaps: list[Gap] = []
    for fault in catalogue.faults:
        gaps += _chaos_gaps(fault, tree)
        gaps += _rule_gaps(fault, tree)
        gaps += _runbook_gaps(fault, tree)
        gaps += _case_gaps(fault, tree)
        gaps += _param_gaps(fault, tree)
    for action in catalogue.actions:
        gaps += _action_gaps(action, tree)
    gaps += _unknown_in_tree(catalogue, tree)
    return sorted(set(gaps))


def _chaos_gaps(fault: CatalogueFault, tree: Tree) -> Iterator[Gap]:
    found = tree.chaos_faults.get(fault.id)
    if found is None:
        yield Gap(fault.id, "chaos-fault", "no chaos fault class in chaos_server/faults")
        return
    default = found.targets[0] if found.targets else None
    yield from _disagree(
        fault.id,
        "chaos-fault",
        {
            "its class": (found.fault_class, fault.fault_class),
            "its target": (default, fault.target),
        },
    )


def _rule_gaps(fault: CatalogueFault, tree: Tree) -> Iterator[Gap]:
    for rule in fault.rules:
        listed = tree.rules.get(rule)
        if listed is None:
            yield Gap(fault.id, "rule", f"{rule} is not a rule in {RULES_FILE}")
        elif fault.id not in listed:
            yield Gap(fault.id, "rule", f"{rule} does not list it under faults: in {RULES_FILE}")
    if fault.fault_class == "control":  # covered by every rule staying quiet
        for rule, listed in tree.rules.items():
            if fault.id in listed:
                yield Gap(fault.id, "rule", f"{rule} lists a control fault in {RULES_FILE}")


def _runbook_gaps(fault: CatalogueFault, tree: Tree) -> Iterator[Gap]:
    if fault.runbook is None:
        return
    book = tree.runbooks.get(fault.runbook)
    where = f"knowledge/runbooks/{fault.runbook}.md"
    if book is None:
        yield Gap(fault.id, "runbook", f"no runbook {where}")
    elif fault.id not in book.faults:
        yield Gap(fault.id, "runbook", f"{where} does not name it under faults:")
    elif not book.steps or not _is_response(fault, book.steps[0].action, book.steps[0].params):
        first = f"{book.steps[0].action} {book.steps[0].params}" if book.steps else "nothing"
        yield Gap(fault.id, "runbook", f"{where} says {first} first, not {_response(fault)}")


def _case_gaps(fault: CatalogueFault, tree: Tree) -> Iterator[Gap]:
    case = tree.cases.get(fault.case)
    where = f"gameday/cases/{fault.case}.yaml"
    if case is None:
        yield Gap(fault.id, "case", f"no eval case {where}")
    elif case.fault != fault.id:
        yield Gap(fault.id, "case", f"{where} injects {case.fault}")
    elif case.action != fault.action or case.params != fault.params:
        expects = f"{case.action} {case.params}"
        yield Gap(fault.id, "case", f"{where} expects {expects}, not {_response(fault)}")


def _param_gaps(fault: CatalogueFault, tree: Tree) -> Iterator[Gap]:
    found = tree.actions.get(fault.action or "")
    if found is None:
        return  # the action's own gap says so
    for name in sorted(set(fault.params) - found.params):
        yield Gap(fault.id, "action-server", f"{fault.action} takes no parameter {name}")


def _action_gaps(action: CatalogueAction, tree: Tree) -> Iterator[Gap]:
    found = tree.actions.get(action.name)
    if found is None:
        yield Gap(action.name, "action-server", "not in the action server's catalogue")
        return
    yield from _disagree(
        action.name,
        "action-server",
        {"its risk": (found.risk, action.risk), "its undo": (found.undo, action.undo)},
    )


def _disagree(subject: str, piece: Piece, pairs: dict[str, tuple[object, object]]) -> Iterator[Gap]:
    """A gap for each (found, declared) pair that differs."""
    for what, (found, declared) in pairs.items():
        if found != declared:
            yield Gap(subject, piece, f"{what} is {found}, not {declared}")


def _unknown_in_tree(catalogue: Catalogue, tree: Tree) -> Iterator[Gap]:
    """What the tree has or names that the catalogue does not."""
    faults, actions = set(catalogue.fault_ids), {a.name: a for a in catalogue.actions}
    cases = {f.case for f in catalogue.faults}
    for fault_id in sorted(set(tree.chaos_faults) - faults):
        yield Gap(fault_id, "registry", "a chaos fault class the catalogue does not declare")
    for name in sorted(set(tree.actions) - set(actions)):
        yield Gap(name, "registry", "in the action server's catalogue, not in the registry")
    for rule, listed in tree.rules.items():
        for fault_id in sorted(set(listed) - faults):
            yield Gap(fault_id, "registry", f"{rule} lists it in {RULES_FILE}; no such fault")
    for book_id, book in tree.runbooks.items():
        for fault_id in sorted(set(book.faults) - faults):
            yield Gap(fault_id, "registry", f"runbook {book_id} names it; no such fault")
        for step in book.steps:
            known = actions.get(step.action)
            if known is None:
                yield Gap(step.action, "registry", f"runbook {book_id} names it; no such action")
            elif step.risk != known.risk:
                yield Gap(step.action, "runbook", f"{book_id} says risk {step.risk}")
    for name, case in tree.cases.items():
        if name not in cases:
            yield Gap(name, "registry", "an eval case no fault declares")
        if case.fault not in faults:
            yield Gap(case.fault, "registry", f"case {name} injects it; no such fault")
        if case.action is not None and case.action not in actions:
            yield Gap(case.action, "registry", f"case {name} expects it; no such action")


def _is_response(fault: CatalogueFault, action: str, params: dict[str, Any]) -> bool:
    """`action` with `params` is the fault's correct action (its params a superset)."""
    return action == fault.action and all(params.get(k) == v for k, v in fault.params.items())


def _response(fault: CatalogueFault) -> str:
    return f"{fault.action} {fault.params}"
