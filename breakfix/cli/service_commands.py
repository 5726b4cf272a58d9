"""`breakfix start | stop | restart SERVICE`: one service of the running lab, through the
supervisor's control endpoint (a victim that died stays dead until someone starts it)."""

from typing import Annotated

import typer
from rich.console import Console

from lab.config import get_settings
from lab.errors import LabError
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.runtime.models import ServiceStatus

err = Console(stderr=True, soft_wrap=True)
ServiceName = Annotated[str, typer.Argument(help="Service name, e.g. target or target-db.")]


def register(app: typer.Typer) -> None:
    """Attach the service commands to the CLI."""
    app.command()(start)
    app.command()(stop)
    app.command()(restart)


def _control(verb: str, service: str) -> None:
    try:
        runtime = LocalRuntime.from_state_dir(StatePaths.at(get_settings().state_dir))
    except LabError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    try:
        status: ServiceStatus = getattr(runtime, verb)(service)
    except LabError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    pid = status.pid if status.pid is not None else "-"
    typer.echo(f"{status.name}: {status.health} (pid {pid})")


def start(service: ServiceName) -> None:
    """Start a stopped service of the running lab."""
    _control("start", service)


def stop(service: ServiceName) -> None:
    """Stop a service of the running lab; the supervisor leaves it stopped."""
    _control("stop", service)


def restart(service: ServiceName) -> None:
    """Restart a service of the running lab (a frozen one is thawed first)."""
    _control("restart", service)
