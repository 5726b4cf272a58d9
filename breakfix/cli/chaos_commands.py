"""`breakfix break | faults | kill`: the chaos server from the command line.

The chaos key is read from the state dir (it belongs to chaos clients alone). Every command
exits non-zero when the chaos server refuses.
"""

import json
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from breakfix.cli.act_command import parse_params
from lab.config import get_settings
from lab.paths import StatePaths
from lab.secrets import read_secret
from lab.services import CHAOS_KEY, endpoints

err = Console(stderr=True, soft_wrap=True)  # a path or message is never split by a newline


def register(app: typer.Typer) -> None:
    """Attach the chaos commands to the CLI."""
    app.command("break")(break_)
    app.command()(faults)
    app.command()(kill)


def chaos_key() -> str:
    """The chaos key from the state dir; exits with a hint when the lab never ran here."""
    key_file = StatePaths.at(get_settings().state_dir).secret(CHAOS_KEY)
    if not key_file.exists():
        err.print("[bold red]error:[/] no chaos key in the state dir: run `make run` first")
        raise typer.Exit(1)
    return read_secret(key_file)


def _call(method: str, path: str, **kwargs: Any) -> Any:
    key = chaos_key()
    url = endpoints(get_settings())["chaos"].url
    try:
        response = httpx.request(
            method,
            f"{url}{path}",
            timeout=120,
            trust_env=False,
            headers={"X-Chaos-Key": key},
            **kwargs,
        )
    except httpx.HTTPError as exc:
        err.print(f"[bold red]error:[/] chaos server at {url} unreachable: {exc}")
        raise typer.Exit(1) from None
    body = response.json() if response.content else None
    if response.status_code >= 400:
        detail = body.get("detail") if isinstance(body, dict) else response.text
        code = body.get("code") if isinstance(body, dict) else "http_error"
        err.print(f"[bold red]refused:[/] {response.status_code} {code}: {detail}")
        raise typer.Exit(1)
    return body


def break_(
    fault: Annotated[str, typer.Argument(help="A fault id, e.g. api-hang (see /catalogue).")],
    target: Annotated[str | None, typer.Option(help="Service to break (fault default).")] = None,
    ttl: Annotated[float | None, typer.Option(help="Seconds until it reverts by itself.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
) -> None:
    """Inject a fault; it reverts by itself when its TTL ends."""
    body = {"target": target, "ttl_s": ttl, "params": parse_params(param or [])}
    typer.echo(json.dumps(_call("POST", f"/break/{fault}", json=body), indent=2))


def faults(
    state: Annotated[str | None, typer.Option(help="active, reverted, ... (default: all)")] = None,
) -> None:
    """Faults, newest first."""
    query = {"state": state} if state else {}
    typer.echo(json.dumps(_call("GET", "/faults", params=query), indent=2))


def kill(
    release: Annotated[bool, typer.Option(help="Release the latch instead.")] = False,
) -> None:
    """Revert every active fault and refuse new ones until `kill --release`."""
    typer.echo(json.dumps(_call("POST", "/kill/release" if release else "/kill"), indent=2))
