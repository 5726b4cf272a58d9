"""`breakfix keys create | list | revoke`: the action server's API keys, in ops-db."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from breakfix.cli.ops_session import ops_session

keys_app = typer.Typer(
    help="Manage the action server's API keys (stored hashed in ops-db).", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)  # a path or message is never split by a newline


@keys_app.command("create")
def create(
    scope: Annotated[str, typer.Option(help="read, act or admin.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
) -> None:
    """Create a key; it is printed once, alone on the last line, and never stored in clear."""
    from action_server.keys import Scope, create_key

    if scope not in {s.value for s in Scope}:
        err.print(f"[bold red]error:[/] scope must be read, act or admin, not {scope!r}")
        raise typer.Exit(2)
    if not name.strip():
        err.print("[bold red]error:[/] --name must not be empty")
        raise typer.Exit(2)
    with ops_session() as session:
        row, plaintext = create_key(session=session, name=name.strip(), scope=Scope(scope))
    err.print(f"created key {row.id} ({row.scope}) for {row.name!r}; it is shown once:")
    typer.echo(plaintext)


@keys_app.command("list")
def list_() -> None:
    """Every key: id, name, scope, created, last used, revoked."""
    from action_server.keys import list_keys

    with ops_session() as session:
        rows = list_keys(session=session)
    table = Table(title="action server keys")
    for column in ("id", "name", "scope", "created", "last used", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id,
            row.name,
            row.scope,
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "-",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "-",
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")]) -> None:
    """Revoke a key: every later request with it gets 401."""
    from action_server.keys import revoke_key

    with ops_session() as session:
        done = revoke_key(session=session, key_id=key_id)
    if not done:
        err.print(f"[bold red]error:[/] no live key with id {key_id!r}")
        raise typer.Exit(1)
    err.print(f"revoked key {key_id}")
