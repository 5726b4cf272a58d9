"""What the routes share: the agent's parts (agent/parts.py), as a FastAPI dependency."""

from typing import Annotated

from fastapi import Depends, Request

from agent.parts import AgentParts


def get_parts(request: Request) -> AgentParts:
    parts: AgentParts = request.app.state.parts
    return parts


Parts = Annotated[AgentParts, Depends(get_parts)]
