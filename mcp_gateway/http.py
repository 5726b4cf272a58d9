"""The MCP server over streamable HTTP, on loopback, behind a bearer token.

The token check is a small ASGI wrapper rather than the SDK's `auth` settings: those make the
server an OAuth resource server (issuer, metadata endpoints), which a loopback lab with one
shared token does not have. Every HTTP request without the token gets 401 and reaches nothing.
"""

import ipaddress

import uvicorn
from mcp.server.fastmcp import FastMCP
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lab.tokens import same_token

MCP_PATH = "/mcp"


class NotLoopback(ValueError):
    """The gateway listens on loopback only."""


class BearerToken:
    """Refuses every HTTP request that does not carry `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            value = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, given = value.partition(" ")
            if scheme.lower() != "bearer" or not same_token(given.strip(), self.token):
                refused = JSONResponse(
                    {"detail": "missing or invalid bearer token", "code": "unauthorized"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def loopback(host: str) -> str:
    """`host` when it is a loopback address (or localhost); NotLoopback otherwise."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise NotLoopback(f"the MCP gateway listens on loopback only, not {host[:60]!r}")


def serve_http(mcp: FastMCP, *, host: str, port: int, token: str) -> None:
    """Serve `mcp` at http://host:port/mcp until interrupted."""
    app = BearerToken(mcp.streamable_http_app(), token)
    config = uvicorn.Config(
        app, host=loopback(host), port=port, log_config=None, access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()
