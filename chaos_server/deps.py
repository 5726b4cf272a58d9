"""Request dependencies: the app's parts, the chaos key check, the correlation id."""

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from chaos_server.parts import ChaosParts

CORRELATION_HEADER = "X-Correlation-ID"


def get_parts(request: Request) -> ChaosParts:
    """Everything the routes work with, built once per app."""
    parts: ChaosParts = request.app.state.parts
    return parts


Parts = Annotated[ChaosParts, Depends(get_parts)]


def correlation_id(
    x_correlation_id: Annotated[str | None, Header(max_length=128)] = None,
) -> str:
    """The caller's correlation id, or a new one."""
    return x_correlation_id or uuid.uuid4().hex


CorrelationId = Annotated[str, Depends(correlation_id)]
