"""An external agent that fixes the lab through the MCP gateway only (no LLM: a scripted
policy), to show how any agent plugs in and is scored.

    .venv/bin/python examples/mcp_agent.py --duration 600

It starts `breakfix mcp serve --client example-agent` over stdio (run it where `breakfix
status` works), then every few seconds reads the alerts and:
- the shop's database reports blocked sessions -> `db_blockers`; when there are sessions to
  end, `run_action terminate-db-blockers`;
- the shop's API is down -> `run_action restart-api`.
It never acts twice on the same trouble within a cooldown, and prints what it did as JSON
lines. Everything else it leaves alone (a real agent would search the runbooks: see the
`on_call_investigation` prompt).
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

POLL_S = 5.5  # a little over the gateway's repeat window (5 s)
COOLDOWN_S = 45.0


def _breakfix() -> str:
    beside = Path(sys.executable).with_name("breakfix")
    return str(beside) if beside.exists() else shutil.which("breakfix") or "breakfix"


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    """A tool's result document ({status, tool, query, data, error})."""
    answer = await session.call_tool(tool, args)
    if answer.structuredContent is not None:
        return dict(answer.structuredContent)
    text = answer.content[0].text if answer.content else "{}"  # type: ignore[union-attr]
    try:
        return dict(json.loads(text))
    except ValueError:
        return {"status": "error", "error": text}


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps({"ts": round(time.time(), 1), **fields}) + "\n")
    sys.stdout.flush()


class Policy:
    """Which action the firing alerts call for, at most once per cooldown each."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.seen: set[tuple[str, str]] = set()

    def ready(self, action: str) -> bool:
        return time.monotonic() - self.last.get(action, -COOLDOWN_S) >= COOLDOWN_S

    async def step(self, session: ClientSession) -> None:
        seen = await call(session, "alerts")
        if seen["status"] != "success":
            return
        firing = {(str(a.get("alertname")), str(a.get("service"))) for a in seen["data"]["firing"]}
        if firing != self.seen:
            self.seen = firing
            say(firing=sorted(f"{name}/{service}" for name, service in firing))
        if ("ServiceDown", "target") in firing and self.ready("restart-api"):
            await self.act(session, "restart-api", "the shop API is down (ServiceDown)")
        elif ("DbBlockedSessions", "target-db") in firing and self.ready("terminate-db-blockers"):
            blockers = await call(session, "db_blockers")
            if blockers["status"] == "success" and blockers["data"]["candidates"]:
                pids = [c["pid"] for c in blockers["data"]["candidates"]]
                await self.act(session, "terminate-db-blockers", f"sessions {pids} block others")
            else:
                say(db_blockers=blockers["status"], error=blockers.get("error"))

    async def act(self, session: ClientSession, action: str, reason: str) -> None:
        self.last[action] = time.monotonic()
        done = await call(session, "run_action", action=action, reason=reason)
        data = done.get("data") or {}
        say(
            action=action,
            reason=reason,
            status=done["status"],
            run=data.get("status") if isinstance(data, dict) else None,
            error=done.get("error"),
        )


async def main(duration_s: float, client: str) -> None:
    # The SDK gives a server a bare environment by default: pass ours (BREAKFIX_* says where
    # the lab is) and our working directory.
    server = StdioServerParameters(
        command=_breakfix(),
        args=["mcp", "serve", "--client", client],
        env=dict(os.environ),
        cwd=os.getcwd(),
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        say(started=client, tools=len(tools.tools))
        policy = Policy()
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            started = time.monotonic()
            await policy.step(session)
            await asyncio.sleep(max(0.0, POLL_S - (time.monotonic() - started)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to run")
    parser.add_argument("--client", default="example-agent", help="MCP client name")
    options = parser.parse_args()
    try:
        asyncio.run(main(options.duration, options.client))
    except KeyboardInterrupt:
        pass
