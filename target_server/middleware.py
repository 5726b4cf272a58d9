"""Per-request correlation id, JSON access log, HTTP metrics and the last-resort 500."""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_server.errors import INTERNAL_ERROR_BODY
from target_server.fault_hooks.routes import PREFIX as HOOKS_PREFIX
from target_server.logs import correlation_id
from target_server.metrics import Metrics

log = logging.getLogger("target_server.access")
error_log = logging.getLogger("target_server.errors")

CORRELATION_HEADER = "X-Correlation-ID"
# A client-chosen id lands in logs and headers, so only accept tame ones.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def route_template(scope: Scope) -> str:
    """The matched route's path template, so metrics never carry raw ids."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    """Pure ASGI middleware: it sees every response, including the ones it has to make up."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with a correlation id, then count and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(CORRELATION_HEADER, "")
        cid = given if _VALID_ID.match(given) else uuid.uuid4().hex
        token = correlation_id.set(cid)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[CORRELATION_HEADER] = cid
            await send(message)

        begin = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error", extra={"path": scope.get("path", "")})
            status = 500
            if not started:
                response = JSONResponse(
                    INTERNAL_ERROR_BODY, status_code=500, headers={CORRELATION_HEADER: cid}
                )
                await response(scope, receive, send)
        finally:
            duration = time.perf_counter() - begin
            route = route_template(scope)
            method = scope.get("method", "")
            if not route.startswith(HOOKS_PREFIX):  # chaos calls are not the shop's traffic
                self.metrics.http_requests.labels(method, route, str(status)).inc()
                self.metrics.http_duration.labels(method, route).observe(duration)
            log.info(
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                },
            )
            correlation_id.reset(token)
