"""The catalogue is declared once and the tree has every piece it asks for (no lab, no Postgres).

The registry (lab/catalogue/catalogue.yaml) against the chaos fault classes, the detector's
rules, the runbooks, the eval cases and the action server's catalogue: no gap on the real
tree, and on copies damaged in memory exactly the gap each damage made, by name.
"""

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.model import CATALOGUE_ACTIONS, HIGH_RISK_ACTIONS
from breakfix.catalogue_tree import read_tree
from breakfix.cli import catalogue_command
from breakfix.cli.main import app
from lab.catalogue.completeness import Tree, TreeAction, find_gaps
from lab.catalogue.registry import Catalogue, get_catalogue

REGISTRY = get_catalogue()
TREE = read_tree()
Raw = dict[str, Any]
Damage = Callable[[Raw, Tree], None]


def damaged(damage: Damage) -> tuple[Catalogue, Tree]:
    """Copies of the real registry and tree with one piece changed or taken away."""
    raw, tree = REGISTRY.model_dump(by_alias=True), copy.deepcopy(TREE)
    damage(raw, tree)
    return Catalogue.model_validate(raw), tree


def fault_entry(raw: Raw, fault_id: str) -> Raw:
    return next(f for f in raw["faults"] if f["id"] == fault_id)


def test_the_real_tree_has_every_piece_and_nothing_else() -> None:
    assert find_gaps(REGISTRY, TREE) == []
    assert len(REGISTRY.faults) == 20
    assert set(TREE.chaos_faults) == set(REGISTRY.fault_ids)
    assert set(TREE.actions) == set(REGISTRY.action_names)


def test_the_policy_knows_exactly_the_registry_actions() -> None:
    assert CATALOGUE_ACTIONS == REGISTRY.action_names
    assert set(HIGH_RISK_ACTIONS) == {n for n, a in TREE.actions.items() if a.risk == "high"}


def _drop_rule_listing(raw: Raw, tree: Tree) -> None:
    tree.rules["MemoryAboveBaseline"].remove("api-memory-leak")


def _drop_rule(raw: Raw, tree: Tree) -> None:
    del tree.rules["TableRowsDropped"]


def _drop_runbook(raw: Raw, tree: Tree) -> None:
    del tree.runbooks["db-lock"]


def _runbook_forgets_fault(raw: Raw, tree: Tree) -> None:
    tree.runbooks["schema-drift"].faults.clear()


def _runbook_other_action(raw: Raw, tree: Tree) -> None:
    tree.runbooks["net-db-latency"].steps[0].params["dependency"] = "pricing"


def _drop_case(raw: Raw, tree: Tree) -> None:
    del tree.cases["disk-fill"]


def _case_other_action(raw: Raw, tree: Tree) -> None:
    tree.cases["db-down"].action = "restart-api"


def _drop_chaos_fault(raw: Raw, tree: Tree) -> None:
    del tree.chaos_faults["api-hang"]


def _chaos_class_changed(raw: Raw, tree: Tree) -> None:
    tree.chaos_faults["upstream-outage"].fault_class = "network"


def _drop_server_action(raw: Raw, tree: Tree) -> None:
    del tree.actions["scale-out"]


def _server_action_riskier(raw: Raw, tree: Tree) -> None:
    tree.actions["clear-cache"].risk = "high"


def _drop_registry_action(raw: Raw, tree: Tree) -> None:
    raw["actions"] = [a for a in raw["actions"] if a["name"] != "snapshot-db"]


def _new_server_action(raw: Raw, tree: Tree) -> None:
    tree.actions["reboot-host"] = TreeAction("high", undo=False)


def _runbook_unknown_action(raw: Raw, tree: Tree) -> None:
    tree.runbooks["unknown-symptoms"].steps[0].action = "page-everyone"


def _rule_unknown_fault(raw: Raw, tree: Tree) -> None:
    tree.rules["DbDown"].append("db-replica-lag")


def _param_the_action_lacks(raw: Raw, tree: Tree) -> None:
    tree.actions["switch-to-fallback"].params.discard("route")


@pytest.mark.parametrize(
    ("damage", "subject", "piece", "named"),
    [
        (_drop_rule_listing, "api-memory-leak", "rule", "MemoryAboveBaseline"),
        (_drop_rule, "db-data-loss", "rule", "TableRowsDropped"),
        (_drop_runbook, "db-lock", "runbook", "knowledge/runbooks/db-lock.md"),
        (_runbook_forgets_fault, "schema-drift", "runbook", "faults:"),
        (_runbook_other_action, "net-db-latency", "runbook", "switch-to-fallback"),
        (_drop_case, "disk-fill", "case", "gameday/cases/disk-fill.yaml"),
        (_case_other_action, "db-down", "case", "restart-api"),
        (_drop_chaos_fault, "api-hang", "chaos-fault", "chaos fault class"),
        (_chaos_class_changed, "upstream-outage", "chaos-fault", "its class is network"),
        (_drop_server_action, "scale-out", "action-server", "not in"),
        (_server_action_riskier, "clear-cache", "action-server", "risk is high"),
        (_drop_registry_action, "snapshot-db", "registry", "action server"),
        (_new_server_action, "reboot-host", "registry", "action server"),
        (_runbook_unknown_action, "page-everyone", "registry", "unknown-symptoms"),
        (_rule_unknown_fault, "db-replica-lag", "registry", "DbDown"),
        (_param_the_action_lacks, "upstream-dns", "action-server", "route"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_one_piece_taken_away_is_exactly_one_gap_named(
    damage: Damage, subject: str, piece: str, named: str
) -> None:
    gaps = find_gaps(*damaged(damage))
    if damage is _param_the_action_lacks:  # every fault that routes around says so
        assert {g.subject for g in gaps} == {"upstream-outage", "upstream-dns", "net-db-latency"}
        gaps = [g for g in gaps if g.subject == subject]
    assert [(g.subject, g.piece) for g in gaps] == [(subject, piece)], gaps
    assert named in gaps[0].detail


def test_a_fault_declared_only_in_the_registry_lacks_every_piece() -> None:
    def declare(raw: Raw, tree: Tree) -> None:
        new = {**fault_entry(raw, "db-lock"), "id": "db-replica-lag", "case": "db-replica-lag"}
        new |= {"runbook": "db-replica-lag", "alerts": {"target-db": ["DbReplicaLagging"]}}
        raw["faults"].append(new)

    gaps = find_gaps(*damaged(declare))
    assert [(g.subject, g.piece) for g in gaps] == [
        ("db-replica-lag", p) for p in ("case", "chaos-fault", "rule", "runbook")
    ]
    assert "DbReplicaLagging" in gaps[2].detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["actions"].pop(0), "its action 'restart-api' is not in actions"),
        (lambda raw: raw["faults"].append(raw["faults"][0]), "fault declared twice: api-crash"),
        (lambda raw: fault_entry(raw, "noop").update(action="escalate"), "a control fault"),
        (lambda raw: fault_entry(raw, "db-down").update(runbook=None), "needs alerts, a runbook"),
        (lambda raw: fault_entry(raw, "db-down").update(alerts={"target": []}), "names no rule"),
        (lambda raw: fault_entry(raw, "api-hang").update(klass="api"), "klass"),
    ],
)
def test_the_registry_refuses_an_inconsistent_declaration(
    change: Callable[[Raw], object], message: str
) -> None:
    raw = REGISTRY.model_dump(by_alias=True)
    change(raw)
    with pytest.raises(ValidationError, match=re.escape(message)):
        Catalogue.model_validate(raw)


def test_breakfix_catalogue_lists_every_fault_with_every_field() -> None:
    result = CliRunner().invoke(app, ["catalogue"])
    assert result.exit_code == 0, result.output
    head, *rows = result.stdout.splitlines()
    columns = re.split(r"\s{2,}", head)
    assert columns == list(catalogue_command.COLUMNS.values())
    cells = [re.split(r"\s{2,}", row) for row in rows]
    assert [c[0] for c in cells] == list(REGISTRY.fault_ids)
    assert all(len(c) == len(columns) and all(x.strip() for x in c) for c in cells), cells

    result = CliRunner().invoke(app, ["catalogue", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["fault"] for e in entries] == list(REGISTRY.fault_ids)
    for entry in entries:
        assert set(catalogue_command.COLUMNS) <= set(entry)
        answer = {"detecting_rules", "runbook", "action", "risk"}  # a control fault has none
        empty = {k for k in catalogue_command.COLUMNS if not entry[k]}
        assert empty == (answer if entry["class"] == "control" else set()), entry


def test_breakfix_catalogue_exits_1_naming_the_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    _, tree = damaged(_drop_case)
    monkeypatch.setattr(catalogue_command, "read_tree", lambda: tree)
    result = CliRunner().invoke(app, ["catalogue"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "catalogue: 1 gap:",
        "  disk-fill: case: no eval case gameday/cases/disk-fill.yaml",
    ]


def test_a_new_fault_asks_for_exactly_the_places_contributing_names() -> None:
    """CONTRIBUTING.md, "Adding a fault", followed for a dummy fault: declared in the
    registry, the check asks for its chaos fault class, its rule listing, its runbook and
    its case, and nothing else; with those four added (in memory) there is no gap."""
    dummy = {
        "id": "dummy-stall",
        "class": "api",
        "target": "target",
        "mechanism": "a dummy fault for the walk-through",
        "alerts": {"target": ["SyntheticLatencyHigh"]},
        "runbook": "dummy-stall",
        "action": "restart-api",
        "params": {},
        "case": "dummy-stall",
    }

    def declare(raw: Raw, tree: Tree) -> None:
        raw["faults"].append(dummy)

    catalogue, tree = damaged(declare)
    asked = sorted((g.subject, g.piece) for g in find_gaps(catalogue, tree))
    assert asked == [
        ("dummy-stall", "case"),
        ("dummy-stall", "chaos-fault"),
        ("dummy-stall", "rule"),
        ("dummy-stall", "runbook"),
    ]
    # step 2: the chaos fault class, 3: the rule's listing, 4: the runbook, 5: the case
    tree.chaos_faults["dummy-stall"] = copy.deepcopy(tree.chaos_faults["api-hang"])
    tree.rules["SyntheticLatencyHigh"].append("dummy-stall")
    runbook = copy.deepcopy(tree.runbooks["api-hang"])
    runbook.faults = ["dummy-stall"]
    tree.runbooks["dummy-stall"] = runbook
    case = copy.deepcopy(tree.cases["api-hang"])
    case.fault = "dummy-stall"
    tree.cases["dummy-stall"] = case
    assert find_gaps(catalogue, tree) == []
