"""`breakfix incidents list | show ID`: the agent's incidents, read from its HTTP API.

`show` tells an incident's story: what fired, what the agent concluded and on what
evidence, what it did and with what result, how it verified, and how long each part took.
What the agent sends back quotes alerts and logs: it is printed without control characters
(no terminal escape sequence reaches the terminal) and as text, never as rich markup.
`approve` and `deny` answer with an approver's token (lab.approvers): the lab operator's by
default, or a person's own from `--token-file`; the agent records the token's name.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lab.approvers import approver_token
from lab.config import get_settings
from lab.paths import StatePaths
from lab.secrets import read_secret
from lab.services import AGENT_APPROVERS, OPERATOR_APPROVER
from lab.untrusted_text import plain

incidents_app = typer.Typer(
    help="The agent's incidents: list, show, approve, deny.", no_args_is_help=True
)
# No emoji codes (a signal named `pg:up` is not ":up:"), and wide lines when piped, so
# scripts that grep the table see whole ids and states.
out = Console(emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, emoji=False)


def _text(value: Any) -> str:
    """A value from the agent, for rich: no control characters, markup printed as text."""
    return escape(plain(value))


def _agent_url() -> str:
    settings = get_settings()
    return f"http://{settings.host}:{settings.agent_port}"


def _get(path: str, **params: Any) -> httpx.Response:
    return _call("GET", path, params=params)


def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    url = _agent_url()
    try:
        response = httpx.request(method, f"{url}{path}", timeout=30, trust_env=False, **kwargs)
    except httpx.HTTPError as exc:
        err.print(f"[bold red]error:[/] agent at {url} unreachable: {_text(exc)}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            body = response.json()
            detail, code = body.get("detail"), body.get("code")
        except ValueError:
            detail, code = response.text, "http_error"
        err.print(f"[bold red]error:[/] {response.status_code} {_text(code)}: {_text(detail)}")
        raise typer.Exit(1)
    return response


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"


def _when(value: Any) -> str:
    return "-" if not value else _text(str(value).replace("T", " ")[:19])


@incidents_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only this state (e.g. resolved).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Incidents, newest first."""
    query: dict[str, Any] = {"limit": limit} | ({"state": state} if state else {})
    incidents = _get("/incidents", **query).json()["incidents"]
    if as_json:
        typer.echo(json.dumps(incidents, indent=2))
        return
    table = Table("id", "state", "opened", "title", "fault", "conf", "alerts", "ttd", "ttm")
    for i in incidents:
        confidence = "-" if i["confidence"] is None else f"{i['confidence']:.2f}"
        table.add_row(
            _text(i["id"]),
            _text(i["state"]),
            _when(i["opened_at"]),
            _text(i["title"]),
            _text(i["fault"] or "-"),
            confidence,
            _text(i["alert_count"]),
            _seconds(i["ttd_s"]),
            _seconds(i["ttm_s"]),
        )
    out.print(table if incidents else "no incidents")


def _story(incident: dict[str, Any]) -> None:
    i = {k: _text(incident[k]) for k in ("id", "title", "state", "source", "alert_count")}
    out.print(f"[bold]{i['id']}[/] {i['title']}  [bold]{i['state']}[/]")
    alertnames = _text(", ".join(incident["alertnames"]))
    out.print(f"source {i['source']}, {i['alert_count']} alert(s): {alertnames}")
    out.print(
        f"detected {_when(incident['detected_at'])}  diagnosed {_when(incident['diagnosed_at'])}"
        f"  mitigated {_when(incident['mitigated_at'])}  closed {_when(incident['closed_at'])}"
    )
    out.print(
        f"time to diagnose {_seconds(incident['ttd_s'])}, to mitigate {_seconds(incident['ttm_s'])}"
    )
    hypotheses = incident["diagnosis"].get("hypotheses") or []
    if hypotheses:
        out.print(f"\n[bold]diagnosis[/] ({_text(incident['diagnosis'].get('mode', '?'))} mode)")
        for h in hypotheses:
            out.print(f"  {h['confidence']:.2f} {_text(h['fault'])}: {_text(h['summary'])}")
            for c in h.get("citations", [])[:5]:
                cited = f"{c['kind']} {c['ref']}: {str(c.get('text', ''))[:100]}"
                out.print(f"       [dim]{_text(cited)}[/]")
    if incident["actions"]:
        out.print("\n[bold]actions[/]")
        for a in incident["actions"]:
            dry = " (dry run)" if a["dry_run"] else ""
            step = f"{a['step_no']}. {a['action']} on {a['target']}: {a['status']}"
            out.print(f"  {_text(step)}{dry}")
    if incident["verification"]:
        out.print(f"\n[bold]verification[/] {_text(json.dumps(incident['verification'])[:300])}")
    out.print("\n[bold]timeline[/]")
    for e in incident["timeline"]:
        move = f" {e['state_from'] or ''} -> {e['state_to']}" if e["state_to"] else ""
        out.print(f"  {_when(e['at'])} {_text(e['step'] + move)}")


@incidents_app.command()
def show(
    incident_id: Annotated[str, typer.Argument(help="An incident id, e.g. inc-00001.")],
    as_json: Annotated[bool, typer.Option("--json", help="The whole record as JSON.")] = False,
    report: Annotated[bool, typer.Option("--report", help="The Markdown report.")] = False,
) -> None:
    """One incident's story: timeline, diagnosis, actions, verification, times."""
    if report:
        typer.echo(plain(_get(f"/incidents/{incident_id}/report").text))
        return
    incident = _get(f"/incidents/{incident_id}").json()
    if as_json:
        typer.echo(json.dumps(incident, indent=2))
        return
    _story(incident)


def _approver_token(token_file: Path | None) -> str:
    """The token in `token_file`, else the lab operator's from the agent's approvers file."""
    try:
        if token_file is not None:
            return read_secret(token_file)
        approvers = StatePaths.at(get_settings().state_dir).secret(AGENT_APPROVERS)
        return approver_token(approvers, OPERATOR_APPROVER)
    except (OSError, ValueError, LookupError) as exc:
        err.print(f"[bold red]error:[/] no approver token: {exc} (run `make run` first?)")
        raise typer.Exit(1) from None


def _answer(incident_id: str, verb: str, *, by: str | None, note: str, token: Path | None) -> None:
    """Approve or deny with an approver's token; the agent records the token's name."""
    headers = {"Authorization": f"Bearer {_approver_token(token)}"}
    body = {"note": note} | ({"by": by} if by else {})
    answered = _call("POST", f"/incidents/{incident_id}/{verb}", json=body, headers=headers)
    out.print(f"{incident_id}: {answered.json().get('state')}")


TokenFile = Annotated[
    Path | None,
    typer.Option(
        envvar="BREAKFIX_APPROVER_TOKEN_FILE",
        help="A file holding your approver token (default: the lab operator's).",
    ),
]
By = Annotated[
    str | None, typer.Option(help="Your approver name, checked against the token's (optional).")
]
Pending = Annotated[str, typer.Argument(help="An incident awaiting approval.")]
Why = Annotated[str, typer.Option("--note", help="Why.")]


@incidents_app.command()
def approve(
    incident_id: Pending, note: Why = "", token_file: TokenFile = None, by: By = None
) -> None:
    """Grant an incident's pending approval: its proposed steps run."""
    _answer(incident_id, "approve", by=by, note=note, token=token_file)


@incidents_app.command()
def deny(incident_id: Pending, note: Why = "", token_file: TokenFile = None, by: By = None) -> None:
    """Deny an incident's pending approval: it escalates with no action."""
    _answer(incident_id, "deny", by=by, note=note, token=token_file)
