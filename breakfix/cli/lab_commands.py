"""`breakfix run | status | down | logs`: running and inspecting the lab."""

import json
import logging
import os
import signal
import sys
import time
from typing import Annotated, Literal

import typer
from rich.console import Console

from breakfix.cli.status_view import collect_status, render_status
from breakfix.reaper import reap
from breakfix.supervisor import Supervisor
from lab.cache_volume import unmount_cache
from lab.config import get_settings
from lab.errors import LabError, PostgresError
from lab.logtail import tail
from lab.paths import StatePaths
from lab.run_state import load
from lab.services import CONSOLE_OPERATOR_TOKEN, CONSOLE_VIEWER_TOKEN, clusters

err = Console(stderr=True, soft_wrap=True)  # a path or message is never split by a newline


def register(app: typer.Typer) -> None:
    """Attach the lab commands to the CLI."""
    app.command()(run)
    app.command()(status)
    app.command()(down)
    app.command()(logs)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run() -> None:
    """Start the whole lab in the foreground; Ctrl-C stops it cleanly."""
    from breakfix.runner import run_lab

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = get_settings()

    def ready(supervisor: Supervisor, took_s: float) -> None:
        log = logging.getLogger("breakfix.run")
        log.info(
            "lab ready in %.1fs; state dir %s; `breakfix status` for details, Ctrl-C to stop",
            took_s,
            supervisor.paths.root,
        )
        action = supervisor.services.get("action")
        if action is not None:
            log.info(
                "action server at %s (GET /actions); get a key with: "
                ".venv/bin/breakfix keys create --scope act --name <you>",
                action.spec.url,
            )
        console = supervisor.services.get("console")
        if console is not None:
            secrets = supervisor.paths.secrets
            log.info(
                "web console at %s: log in with the operator token (cat %s) or the read-only"
                " viewer token (cat %s)",
                console.spec.url,
                secrets / CONSOLE_OPERATOR_TOKEN,
                secrets / CONSOLE_VIEWER_TOKEN,
            )

    try:
        code = run_lab(settings, ready)
    except LabError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Stable JSON for scripts.")] = False,
    show_secrets: Annotated[bool, typer.Option(help="Include DB passwords in DSNs.")] = False,
    runtime: Annotated[
        Literal["local", "docker"],
        typer.Option(help="local: `breakfix run`'s supervisor; docker: the Compose stack."),
    ] = "local",
    project: Annotated[
        str, typer.Option(help="The Compose project (docker runtime).")
    ] = "breakfix",
) -> None:
    """Show every service: pid, port, URL, health, uptime."""
    settings = get_settings()
    try:
        report = collect_status(
            settings, show_secrets=show_secrets, runtime=runtime, docker_project=project
        )
    except LabError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        render_status(report, Console())


def down() -> None:
    """Stop the lab: every service, both Postgres clusters cleanly, no process left behind."""
    settings = get_settings()
    paths = StatePaths.at(settings.state_dir)
    state = load(paths.supervisor_state)
    if state is not None and state.supervisor_alive():
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + settings.stop_timeout_s * 6
        while state.supervisor_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if state.supervisor_alive():
            # Its children get their stop signal from the kernel when it dies (PDEATHSIG);
            # reap() below waits for them and finishes off any that linger.
            err.print(f"supervisor {state.pid} did not stop in time; killing it")
            os.kill(state.pid, signal.SIGKILL)
        else:
            err.print(f"supervisor {state.pid} stopped")
    try:
        dbs = clusters(settings, paths)
    except PostgresError as exc:
        raise _fail(str(exc)) from None
    leftovers = reap(paths=paths, dbs=dbs, timeout=settings.stop_timeout_s)
    if leftovers:
        err.print(f"stopped leftovers: {', '.join(leftovers)}")
    if unmount_cache(paths.target_cache):  # left mounted by a supervisor that died
        err.print(f"unmounted the cache tmpfs at {paths.target_cache}")
    paths.supervisor_state.unlink(missing_ok=True)
    for name, cluster in dbs.items():
        if cluster.is_initialised():
            err.print(f"{name}: {cluster.state()}")
    err.print("lab is down")


def logs(
    service: Annotated[str, typer.Argument(help="Service name, e.g. target or target-db.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0)] = 50,
) -> None:
    """Print the end of a service's log (stdout and stderr), optionally following it."""
    paths = StatePaths.at(get_settings().state_dir)
    path = paths.log(service)
    if not path.exists():
        known = sorted(p.stem for p in paths.logs.glob("*.log")) if paths.logs.exists() else []
        raise _fail(f"no log for {service!r}; known: {', '.join(known) or 'none yet'}")
    for line in tail(path, lines):
        typer.echo(line)
    if not follow:
        return
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        try:
            while True:
                chunk = handle.readline()
                if chunk:
                    typer.echo(chunk.decode("utf-8", errors="replace").rstrip("\n"))
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return
