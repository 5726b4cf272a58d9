"""One bound on request bodies for every lab server, enforced before any route reads them.

The middleware reads the body first, chunk by chunk, and refuses it as soon as it passes its
limit, whatever Content-Length says and chunked or not (413 `payload_too_large`), or when
it is JSON nested deeper than the parsers can take (400 `json_too_deep`). Only a body that
passes reaches the app, whole: nothing parses, authenticates or stores a refused one.
"""

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lab.json_depth import nests_deeper_than

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 64
# The refusal's code in the request state, where an observer wrapping this middleware (the
# action server's audit) finds it as it finds the codes its own error handlers leave there.
ERROR_CODE_STATE = "error_code"


class BodyLimit:
    """Pure ASGI middleware: request bodies bounded in size and JSON nesting."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = MAX_BODY_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
        wider: Mapping[str, int] | None = None,
    ) -> None:
        """`wider` maps path prefixes to a larger limit of their own (an alert intake)."""
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.wider = dict(wider or {})

    def limit_for(self, path: str) -> int:
        """The most bytes a body sent to `path` may hold."""
        wider = (size for prefix, size in self.wider.items() if path.startswith(prefix))
        return next(wider, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within its limit, check its nesting, then hand it on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and not _within(declared, limit):
            await _refuse(scope, receive, send, 413, _too_large(limit))
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: the app learns it as it would have
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(scope, receive, send, 413, _too_large(limit))
                return
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": bytes(body), "more_body": False}
                break
        if message["type"] == "http.request" and _is_json(headers):
            if nests_deeper_than(message["body"], self.max_depth):
                await _refuse(scope, receive, send, 400, _too_deep(self.max_depth))
                return
        await self.app(scope, _replay(message, receive), send)


def _within(declared: str, limit: int) -> bool:
    return declared.isascii() and declared.isdigit() and int(declared) <= limit


def _is_json(headers: Headers) -> bool:
    # FastAPI parses a body without a content type as JSON too.
    return "json" in headers.get("content-type", "json").lower()


def _too_large(limit: int) -> dict[str, Any]:
    return {
        "detail": f"request bodies are limited to {limit} bytes",
        "code": "payload_too_large",
        "limit_bytes": limit,
    }


def _too_deep(depth: int) -> dict[str, Any]:
    return {
        "detail": f"JSON bodies may nest {depth} levels deep at most",
        "code": "json_too_deep",
        "max_depth": depth,
    }


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, body: dict[str, Any]
) -> None:
    scope.setdefault("state", {})[ERROR_CODE_STATE] = body["code"]
    # The rest of the body is never read: the connection cannot carry another request.
    response = JSONResponse(body, status, headers={"Connection": "close"})
    await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
