"""The console app: its parts, security headers, error pages and routes."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from console.config import Settings
from console.errors import ConsoleError, LoginRequired
from console.parts import ConsoleParts, get_parts
from console.render import is_fragment, page
from console.routes import approvals, audit, chaos, gamedays, incidents, lab, login
from lab.body_limit import BodyLimit
from lab.http_errors import validation_details

log = logging.getLogger("console")
STATIC = Path(__file__).resolve().parent / "static"
# Scripts and styles from the console itself only: an injected <script> or inline handler
# does not run even if some text escaped its escaping.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings) -> FastAPI:
    """The console bound to one lab."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.parts.close()

    app = FastAPI(
        title="breakfix console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.parts = ConsoleParts.build(settings)
    app.add_middleware(BodyLimit)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The console is up."""
        return {"status": "ok"}

    for module in (login, lab, incidents, chaos, gamedays, audit, approvals):
        app.include_router(module.router)
    return app


def _error(request: Request, status: int, code: str, detail: object) -> Response:
    parts = get_parts(request)
    session = parts.sessions.get(request.cookies.get("breakfix_console"))
    template = "error_fragment.html" if is_fragment(request) else "error.html"
    response = page(
        request, template, session, status_code=status, code=code, detail=detail, status=status
    )
    response.headers["X-Console-Error"] = code
    return response


def install_error_pages(app: FastAPI) -> None:
    """Every error answered as a page with its status, a stable code and a message; the
    unexpected logged with its traceback and shown as a fixed message."""

    @app.exception_handler(ConsoleError)
    async def _known(request: Request, exc: ConsoleError) -> Response:
        if isinstance(exc, LoginRequired) and not is_fragment(request):
            return RedirectResponse("/login", status_code=303)
        return _error(request, exc.status_code, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in validation_details(exc)
        )
        return _error(request, 422, "validation_error", fields)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, code, exc.detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal_error", "internal error: see the console's log")
