"""`breakfix act NAME [--param k=v] [--dry-run]`: run an action through the action server."""

import json
import os
from typing import Annotated, Any

import typer
from rich.console import Console

from lab.config import get_settings
from lab.paths import StatePaths
from lab.services import endpoints

err = Console(stderr=True, soft_wrap=True)  # a path or message is never split by a newline
CLI_KEY = "cli-action.key"
OK_STATUSES = {"succeeded", "dry_run"}


def register(app: typer.Typer) -> None:
    """Attach `act` to the CLI."""
    app.command()(act)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values that parse as JSON (numbers, booleans, objects) are typed."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            err.print(f"[bold red]error:[/] --param wants key=value, got {pair!r}")
            raise typer.Exit(2)
        try:
            params[key] = json.loads(raw)  # numbers, booleans, null, JSON objects
        except ValueError:
            params[key] = raw
    return params


def _key(paths: StatePaths, given: str | None) -> str:
    """--key, else BREAKFIX_ACTION_KEY, else the CLI's own act key (created on first use,
    and again when it was revoked)."""
    if given or os.environ.get("BREAKFIX_ACTION_KEY"):
        return given or os.environ["BREAKFIX_ACTION_KEY"]
    from action_server.keys import Scope, ensure_key
    from breakfix.cli.ops_session import ops_session

    with ops_session() as session:
        key, _ = ensure_key(
            session=session, key_file=paths.secret(CLI_KEY), name="breakfix-cli", scope=Scope.act
        )
    return key


def act(
    name: Annotated[str, typer.Argument(help="The action, e.g. restart-api (see GET /actions).")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
    dry_run: Annotated[bool, typer.Option(help="Describe; change nothing.")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for a busy target instead of failing.")] = False,
    key: Annotated[str | None, typer.Option(help="API key (default: the CLI's own).")] = None,
) -> None:
    """Run an action; exits non-zero when it is refused or does not succeed."""
    from action_server.client import ActionClient, ActionClientError

    settings = get_settings()
    paths = StatePaths.at(settings.state_dir)
    url = endpoints(settings)["action"].url
    with ActionClient(url, _key(paths, key)) as client:
        try:
            run = client.act(name, parse_params(param or []), dry_run=dry_run, wait=wait)
        except ActionClientError as exc:
            err.print(f"[bold red]refused:[/] {exc.status} {exc.code}: {exc.detail}")
            raise typer.Exit(1) from None
    typer.echo(json.dumps(run.model_dump(mode="json"), indent=2))
    if run.status not in OK_STATUSES:
        raise typer.Exit(1)
