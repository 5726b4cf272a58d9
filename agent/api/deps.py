"""What the routes share: the agent's parts (agent/parts.py), as a FastAPI dependency."""

from typing import Annotated

from fastapi import Depends, Request

from agent.parts import AgentParts


def get_parts(request: Request) -> AgentParts:
    parts: AgentParts = request.app.state.parts
    return parts


async def _parts(request: Request) -> AgentParts:
    """`get_parts` as a dependency: async, as FastAPI runs a sync one in a worker thread."""
    return get_parts(request)


Parts = Annotated[AgentParts, Depends(_parts)]
