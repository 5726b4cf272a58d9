"""The MCP server over a Gateway: its tools, the runbooks and architecture as resources, and
the on-call prompt. Served over stdio or streamable HTTP (mcp_gateway.http)."""

from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.resources import FileResource
from pydantic import Field

from knowledge.runbook import RUNBOOK_DIR
from mcp_gateway import prompts
from mcp_gateway.gateway import Doc, Gateway

ARCHITECTURE = Path(__file__).resolve().parent / "architecture.md"
INSTRUCTIONS = (
    "Tools to observe a small online shop's lab and to act on it through a fixed catalogue "
    "of remediation actions. Read breakfix://architecture first. High-risk actions need a "
    "human's approval (status approval_required): poll approval_status."
)

Service = Annotated[
    str | None,
    Field(
        description="one service (target, target-db, ops-db, action, observability...) or all",
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
    ),
]
Since = Annotated[float, Field(ge=1, le=86400, description="how far back, in seconds")]
Query = Annotated[str, Field(min_length=3, max_length=500, description="symptoms, in words")]
TopK = Annotated[int, Field(ge=1, le=10, description="how many documents")]
ActionName = Annotated[
    str, Field(max_length=64, pattern=r"^[a-z0-9-]+$", description="a catalogue action")
]
Params = Annotated[dict[str, Any], Field(description="the action's parameters (see its dry run)")]


async def _threaded(call: Any, *args: Any) -> Doc:
    """Run a blocking gateway call off the event loop (an action may take a minute)."""
    answer: Doc = await anyio.to_thread.run_sync(partial(call, *args))
    return answer


def build_server(gateway: Gateway, **settings: Any) -> FastMCP:
    """An MCP server whose tools are `gateway`'s."""
    mcp = FastMCP("breakfix", instructions=INSTRUCTIONS, **settings)

    @mcp.tool()
    async def alerts() -> Doc:
        """Alerts firing now and those that fired recently (name, service, severity, since)."""
        return await _threaded(gateway.alerts)

    @mcp.tool()
    async def snapshot(service: Service = None) -> Doc:
        """The latest value of every metric, by service."""
        return await _threaded(gateway.snapshot, service)

    @mcp.tool()
    async def series(
        metric: Annotated[str, Field(max_length=100, pattern=r"^[a-z_][a-z0-9_]*$")],
        service: Service = None,
        since_s: Since = 300.0,
    ) -> Doc:
        """The points of one metric (see snapshot for the names) over the last `since_s`."""
        return await _threaded(gateway.series, metric, service, since_s)

    @mcp.tool()
    async def search_logs(
        pattern: Annotated[
            str | None, Field(max_length=200, description="an RE2 regular expression")
        ] = None,
        service: Service = None,
        since_s: Since = 300.0,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
    ) -> Doc:
        """Log lines (newest last), those matching `pattern` when given."""
        return await _threaded(gateway.logs, pattern, service, since_s, limit)

    @mcp.tool()
    async def evidence(service: Service = None, since_s: Since = 300.0) -> Doc:
        """Per service: the trends that changed, log signatures and lines, slow or failed
        trace ids, and its alerts."""
        return await _threaded(gateway.evidence, service, since_s)

    @mcp.tool()
    async def db_blockers() -> Doc:
        """Sessions on the shop's database that block others or are not the app's (the
        terminate-db-blockers plan: what it would end, and the protected ones)."""
        return await _threaded(gateway.db_blockers)

    @mcp.tool()
    async def search_runbooks(query: Query, k: TopK = 3) -> Doc:
        """The runbooks closest to a description of symptoms, best first, with passages."""
        return await _threaded(gateway.runbooks, query, k)

    @mcp.tool()
    async def past_incidents(query: Query, k: TopK = 3) -> Doc:
        """Postmortems of past incidents closest to a description, with what they were."""
        return await _threaded(gateway.past_incidents, query, k)

    @mcp.tool()
    async def action_catalogue() -> Doc:
        """Every remediation action: its parameters, risk and whether it can be undone."""
        return await _threaded(gateway.catalogue_actions)

    @mcp.tool()
    async def dry_run(action: ActionName, params: Params | None = None) -> Doc:
        """What an action would do (its plan), without doing it."""
        return await _threaded(gateway.dry_run, action, params or {})

    @mcp.tool()
    async def run_action(
        action: ActionName,
        reason: Annotated[str, Field(min_length=3, max_length=500, description="why")],
        params: Params | None = None,
    ) -> Doc:
        """Run a catalogue action (waits for it and its verification). A high-risk action
        answers approval_required with an approval_id instead: poll approval_status."""
        return await _threaded(gateway.run_action, action, params or {}, reason)

    @mcp.tool()
    async def approval_status(
        approval_id: Annotated[str, Field(max_length=40, pattern=r"^apr_[0-9a-f]+$")],
    ) -> Doc:
        """Where an approval request stands; once a human said yes, this call runs it (once)
        and answers the run."""
        return await _threaded(gateway.approval_status, approval_id)

    @mcp.tool()
    async def escalate(
        summary: Annotated[str, Field(min_length=3, max_length=2000)],
        severity: Literal["info", "warning", "critical"] = "critical",
        details: Annotated[dict[str, str], Field(max_length=20)] | None = None,
    ) -> Doc:
        """Page the human on call with what you found (the escalate action)."""
        return await _threaded(gateway.escalate, summary, severity, details or {})

    mcp.add_resource(
        FileResource(
            uri="breakfix://architecture",
            name="architecture",
            description="The lab's services and the rules of this gateway",
            path=ARCHITECTURE,
            mime_type="text/markdown",
        )
    )
    for path in sorted(RUNBOOK_DIR.glob("*.md")):
        if path.name != "README.md":
            mcp.add_resource(
                FileResource(
                    uri=f"runbook://{path.stem}",
                    name=f"runbook {path.stem}",
                    path=path,
                    mime_type="text/markdown",
                )
            )

    @mcp.prompt()
    def on_call_investigation(symptom: str) -> str:
        """Investigate a symptom the way the runbooks expect, then act and verify."""
        return prompts.on_call(symptom)

    return mcp
