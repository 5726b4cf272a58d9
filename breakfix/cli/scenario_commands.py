"""`breakfix chaos run | list | export`: scenarios from the command line.

`run` executes a scenario file against the running lab with the chaos key from the state
dir; whatever it injected is reverted before it exits, Ctrl-C included. It exits 0 when the
scenario passed, 1 otherwise, 2 when the file is invalid.
"""

import json
from pathlib import Path
from typing import Annotated, Literal

import httpx
import typer
import yaml
from rich.console import Console

from breakfix.cli.act_command import parse_params
from breakfix.cli.chaos_commands import chaos_key
from chaos_server.scenarios.api import HttpChaosApi
from chaos_server.scenarios.chaostoolkit import experiment
from chaos_server.scenarios.model import ScenarioError, load_dir, load_scenario
from chaos_server.scenarios.runner import ScenarioResult, StepResult, run_scenario
from lab.config import get_settings
from lab.paths import SHIPPED_SCENARIOS
from lab.services import endpoints

chaos_app = typer.Typer(help="Chaos scenarios: run, list, export.", no_args_is_help=True)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # a path or message is never split by a newline


def _line(result: StepResult) -> None:
    mark = "[green]ok[/]" if result.ok else "[bold red]FAIL[/]"
    out.print(f"  {mark:>20} {result.kind:<12} {result.took_s:7.2f}s  {result.detail}")


def _print(result: ScenarioResult) -> None:
    for title, rows in (
        ("steady state before", result.before),
        ("steps", result.steps),
        ("rollback", result.rollback),
        ("steady state after", result.after),
    ):
        if rows:
            out.print(f"[bold]{title}[/]")
            for row in rows:
                _line(row)
    colour = "green" if result.status == "passed" else "red"
    out.print(f"scenario {result.scenario}: [bold {colour}]{result.status}[/]")
    out.print(f"correlation id {result.correlation_id}")


@chaos_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="A scenario YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a scenario against the running lab; its faults are reverted before it exits."""
    try:
        scenario = load_scenario(file)
    except ScenarioError as exc:
        err.print(f"[bold red]invalid scenario:[/] {exc}")
        raise typer.Exit(2) from None
    settings = get_settings()
    urls = {name: end.url for name, end in endpoints(settings).items()}
    api = HttpChaosApi(urls["chaos"], chaos_key())
    try:
        result = run_scenario(scenario, api, urls)
    except httpx.HTTPError as exc:
        err.print(f"[bold red]error:[/] chaos server unreachable: {exc}")
        raise typer.Exit(1) from None
    finally:
        api.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print(result)
    raise typer.Exit(0 if result.status == "passed" else 1)


@chaos_app.command("list")
def list_(
    directory: Annotated[
        Path, typer.Option("--dir", help="Scenario directory.")
    ] = SHIPPED_SCENARIOS,
) -> None:
    """The scenario files in a directory (the shipped examples by default)."""
    scenarios, errors = load_dir(directory)
    if not scenarios and not errors:
        err.print(f"no scenarios in {directory}")
    for scenario in scenarios:
        schedule = f"  [dim]cron {scenario.schedule}[/]" if scenario.schedule else ""
        out.print(f"[bold]{scenario.name}[/] ({len(scenario.steps)} steps){schedule}")
        if scenario.description:
            out.print(f"    {' '.join(scenario.description.split())}", soft_wrap=True)
    for error in errors:
        err.print(f"[bold red]invalid:[/] {error}")
    if errors:
        raise typer.Exit(1)


@chaos_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the experiment.")],
    fmt: Annotated[Literal["chaostoolkit"], typer.Option("--format")] = "chaostoolkit",
    fault: Annotated[str, typer.Option(help="The fault to inject.")] = "api-latency",
    target: Annotated[str | None, typer.Option(help="Its target (fault default).")] = None,
    ttl: Annotated[float, typer.Option(help="Fault TTL in seconds.")] = 30.0,
    pause: Annotated[float, typer.Option(help="Seconds between break and re-check.")] = 5.0,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
) -> None:
    """Write a Chaos Toolkit experiment for one fault (run it with `chaos run FILE`)."""
    ends = endpoints(get_settings())
    document = experiment(
        chaos_url=ends["chaos"].url,
        target_url=ends["target"].url,
        fault=fault,
        target=target,
        params=parse_params(param or []),
        ttl_s=ttl,
        pause_s=pause,
    )
    text = (
        yaml.safe_dump(document, sort_keys=False)
        if file.suffix in (".yaml", ".yml")
        else json.dumps(document, indent=2) + "\n"
    )
    file.write_text(text)
    out.print(
        f"wrote {file} ({fmt}); run it with the chaos key in the environment:", soft_wrap=True
    )
    out.print(
        f"  BREAKFIX_CHAOS_KEY=... chaos run --rollback-strategy always {file}", soft_wrap=True
    )
