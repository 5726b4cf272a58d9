"""`breakfix validate`: walk the lab's build order through each server's API and print a
checklist, each step with what it checked and how long it took.

Exit 0 when every step passed, 1 naming the first failing step, 2 when the lab cannot be
reached at all.
"""

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from gameday.checklist import StepResult, first_failure
from gameday.lab_handle import GamedayLab, LabUnreachable, check_reachable, connect
from gameday.validate import STEPS, run_validation
from lab.config import get_settings

# No emoji codes and no highlighting (checked lines carry ids and codes, shown as they are);
# never wrapped, so a log or a grep sees each checked line whole.
out = Console(emoji=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, emoji=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach `validate` to the CLI."""
    app.command()(validate)


def step_lines(result: StepResult) -> list[str]:
    """A step as Rich markup: its mark, number, name and time, then what it checked."""
    if not result.ran:
        return [f"[dim]- {result.number}. {escape(result.name)}: not run[/]"]
    mark, state = ("[green]✓[/]", "passed") if result.passed else ("[bold red]✗[/]", "failed")
    lines = [f"{mark} {result.number}. {escape(result.name)}: {state} ({result.seconds:.1f}s)"]
    lines += [f"    {escape(line)}" for line in result.checked]
    if result.error is not None:
        lines.append(f"    [red]error: {escape(result.error)}[/]")
    return lines


def failure_line(result: StepResult) -> str:
    """The one line that names the first failing step."""
    return f"validate: step {result.number} ({result.name}) failed: {result.error}"


def validate(
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check the running lab step by step: restart, actions, detection, chaos, the agent."""
    try:
        lab = connect(get_settings())
    except LabUnreachable as exc:
        err.print(f"validate: {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        check_reachable(lab)
        if as_json:
            results = run_validation(lab=lab, on_step=lambda _: None)
        else:
            results = _with_progress(lab)
    except LabUnreachable as exc:
        err.print(f"validate: {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        lab.close()
    failed = first_failure(results)
    if as_json:
        document = {
            "passed": failed is None,
            "failed_step": failed.number if failed else None,
            "steps": [asdict(r) for r in results],
        }
        typer.echo(json.dumps(document, indent=2))
    if failed is not None:
        err.print(escape(failure_line(failed)))
        raise typer.Exit(1)
    if not as_json:
        out.print(f"[green]validate: all {len(results)} steps passed[/]")


def _with_progress(lab: GamedayLab) -> list[StepResult]:
    """Run the steps, printing each as it ends, with a spinner naming the one running."""
    names = {s.number: s.name for s in STEPS}

    def title(number: int) -> str:
        return f"step {number}. {escape(names[number])} ..."

    with Status(title(STEPS[0].number), console=out) as status:

        def on_step(result: StepResult) -> None:
            for line in step_lines(result):
                out.print(line)
            if result.number + 1 in names:
                status.update(title(result.number + 1))

        return run_validation(lab=lab, on_step=on_step)
