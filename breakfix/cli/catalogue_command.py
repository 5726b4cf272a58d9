"""`breakfix catalogue`: the fault catalogue as one table, and whether the tree is complete.

Each fault with its class, the correct action and its risk, its runbook and eval case, its
mechanism and the rules expected to detect it (`--json` also says on which service). Exit 1
naming every gap (a fault without its chaos fault class, rule, runbook or case; an action the
registry and the action server do not both have) when the tree and the registry disagree."""

import json
from typing import Annotated, Any

import typer

from breakfix.catalogue_tree import read_tree
from lab.catalogue.completeness import Gap, find_gaps
from lab.catalogue.registry import Catalogue, CatalogueFault, get_catalogue

# JSON field -> table heading, in the table's order: the long columns last.
COLUMNS = {
    "fault": "fault",
    "class": "class",
    "action": "correct action",
    "risk": "risk",
    "runbook": "runbook",
    "case": "eval case",
    "mechanism": "mechanism",
    "detecting_rules": "detecting rules",
}


def register(app: typer.Typer) -> None:
    """Attach `catalogue` to the CLI."""
    app.command(name="catalogue")(catalogue)


def catalogue(
    as_json: Annotated[bool, typer.Option("--json", help="Print the faults as JSON.")] = False,
) -> None:
    """Print the fault catalogue; exit 1 naming the gaps when a piece is missing."""
    registry = get_catalogue()
    entries = fault_entries(registry)
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
    else:
        typer.echo(render_table(entries))
    gaps = find_gaps(registry, read_tree())
    if gaps:
        typer.echo(gap_report(gaps), err=True)
        raise typer.Exit(1)


def fault_entries(registry: Catalogue) -> list[dict[str, Any]]:
    """One object per fault: the fields of `breakfix catalogue --json`."""
    return [_entry(registry, fault) for fault in registry.faults]


def _entry(registry: Catalogue, fault: CatalogueFault) -> dict[str, Any]:
    action = registry.action(fault.action) if fault.action else None
    return {
        "fault": fault.id,
        "class": fault.fault_class,
        "mechanism": fault.mechanism,
        "detecting_rules": fault.rules,
        "alerts": {svc: list(rules) for svc, rules in fault.alerts.items()},
        "runbook": fault.runbook,
        "action": fault.action,
        "params": dict(fault.params),
        "risk": action.risk if action else None,
        "case": fault.case,
    }


def render_table(entries: list[dict[str, Any]]) -> str:
    """Aligned columns, two spaces apart; `none` where a control fault has nothing."""
    rows = [list(COLUMNS.values())] + [[_cell(key, e) for key in COLUMNS] for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


def _cell(key: str, entry: dict[str, Any]) -> str:
    value = entry[key]
    if key == "action" and value and entry["params"]:
        value += "(" + ",".join(f"{k}={v}" for k, v in entry["params"].items()) + ")"
    if key == "detecting_rules":
        value = ",".join(value)
    return str(value) if value else "none"


def gap_report(gaps: list[Gap]) -> str:
    """The gaps, one a line, under a line that counts them."""
    noun = "gap" if len(gaps) == 1 else "gaps"
    return "\n".join([f"catalogue: {len(gaps)} {noun}:", *(f"  {gap}" for gap in gaps)])
