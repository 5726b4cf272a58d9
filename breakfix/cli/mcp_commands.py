"""`breakfix mcp serve | approvals | approve | deny`: the MCP gateway for agents we did not
write, and the human side of its approvals."""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breakfix.cli.ops_session import ops_url
from lab.config import get_settings
from lab.paths import StatePaths
from lab.secrets import ensure_secret
from lab.untrusted_text import plain
from mcp_gateway.approvals import Approvals

err = Console(stderr=True, soft_wrap=True)
mcp_app = typer.Typer(
    help="The MCP gateway: the lab's observe and act tools for any agent.", no_args_is_help=True
)
HTTP_TOKEN = "mcp-http.token"
DEFAULT_HTTP_PORT = 8090

Client = Annotated[str, typer.Option(help="The MCP client's name: its action key is mcp:<client>.")]
ApprovalId = Annotated[str, typer.Argument(help="An approval id (apr_...).")]
Note = Annotated[str, typer.Option(help="Why.")]
By = Annotated[str, typer.Option(help="Who answers (recorded).")]


@mcp_app.command()
def serve(
    client: Client = "assistant",
    http: Annotated[bool, typer.Option(help="Streamable HTTP instead of stdio.")] = False,
    port: Annotated[int, typer.Option(help="HTTP port (loopback).")] = DEFAULT_HTTP_PORT,
    repeat_window_s: Annotated[
        float, typer.Option(help="Refuse an identical call repeated within this many seconds.")
    ] = 5.0,
) -> None:
    """Serve the gateway over stdio (for a local assistant) or HTTP with a bearer token."""
    from mcp_gateway.gateway import Gateway
    from mcp_gateway.http import NotLoopback, serve_http
    from mcp_gateway.server import build_server
    from mcp_gateway.settings import GatewaySettings, GatewaySettingsError

    # stdout is the protocol on stdio: every log line goes to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    for noisy in ("httpx", "mcp", "chromadb", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    lab = get_settings()
    try:
        settings = GatewaySettings.from_lab(lab, client, repeat_window_s=repeat_window_s)
    except GatewaySettingsError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    gateway = Gateway(settings)
    try:
        if not http:
            build_server(gateway).run("stdio")
            return
        token_file = StatePaths.at(lab.state_dir).secret(HTTP_TOKEN)
        token = ensure_secret(token_file)
        mcp = build_server(gateway, host=lab.host, port=port)
        err.print(
            f"MCP gateway for {client!r} at http://{lab.host}:{port}/mcp "
            f"(Authorization: Bearer <the token in {token_file}>)"
        )
        try:
            serve_http(mcp, host=lab.host, port=port, token=token)
        except NotLoopback as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
    finally:
        gateway.close()


def _cell(text: object, limit: int = 80) -> str:
    """Untrusted text (a client's name, reason, parameters) as a table cell."""
    return escape(plain(text, limit=limit, one_line=True))


@contextmanager
def _approvals() -> Iterator[Approvals]:
    approvals = Approvals(ops_url())
    try:
        yield approvals
    finally:
        approvals.close()


@mcp_app.command()
def approvals(
    state: Annotated[str | None, typer.Option(help="Only this state (e.g. pending).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Approval requests from MCP clients, newest first."""
    from mcp_gateway.approvals import ApprovalError

    with _approvals() as store:
        try:
            rows = store.recent(state=state, limit=limit)
        except ApprovalError as exc:
            err.print(f"[bold red]error:[/] {exc.code}: {exc}")
            raise typer.Exit(1) from None
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.view()))
        return
    table = Table(title="MCP approval requests")
    table.add_column("id", no_wrap=True)
    for column in ("client", "action", "params", "reason", "state", "requested", "by"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id,
            _cell(row.client),
            row.action,
            _cell(row.params),
            _cell(row.reason),
            row.state,
            f"{row.requested_at:%Y-%m-%d %H:%M:%S}",
            _cell(row.decided_by or "-"),
        )
    Console().print(table)


def _decide(approval_id: str, *, approve: bool, by: str, note: str) -> None:
    from mcp_gateway.approvals import ApprovalError

    with _approvals() as store:
        try:
            row = store.decide(approval_id, approve=approve, by=by, note=note)
        except ApprovalError as exc:
            err.print(f"[bold red]error:[/] {exc.code}: {exc}")
            raise typer.Exit(1) from None
    typer.echo(
        f"{row.id}: {row.state} ({row.action} for MCP client {_cell(row.client)}); "
        + ("it runs when the client next polls approval_status" if approve else "it will not run")
    )


@mcp_app.command()
def approve(approval_id: ApprovalId, note: Note = "", by: By = "operator") -> None:
    """Say yes to a pending request: the client's next approval_status call runs it."""
    _decide(approval_id, approve=True, by=by, note=note)


@mcp_app.command()
def deny(approval_id: ApprovalId, note: Note = "", by: By = "operator") -> None:
    """Say no to a pending request: it never runs."""
    _decide(approval_id, approve=False, by=by, note=note)
