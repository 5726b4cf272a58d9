"""db-proxy's admin API: lanes, stats and toxics, behind the victims' fault-hooks token."""

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from chaos_server.db_proxy.proxy import TcpProxy, ToxicConflict
from chaos_server.db_proxy.toxics import Toxic
from lab.body_limit import BodyLimit
from lab.hooks_token import HOOKS_HEADER, HooksAccess, check_hooks_token
from lab.http_errors import install_json_errors, validation_details

log = logging.getLogger("chaos_server.db_proxy.admin")


class AdminError(Exception):
    """An answer on purpose: HTTP status and a stable code."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code, self.code = status_code, code


def create_admin_app(*, lanes: dict[str, TcpProxy], token_file: Path | None) -> FastAPI:
    """The admin app; a missing or blank token file disables every call but /healthz."""

    def require_token(
        x_fault_hooks_token: Annotated[str | None, Header(max_length=512)] = None,
    ) -> None:
        access = check_hooks_token(token_file, x_fault_hooks_token)
        if access is HooksAccess.disabled:
            raise AdminError(403, "hooks_disabled", "db-proxy admin is disabled (no token)")
        if access is not HooksAccess.ok:
            raise AdminError(401, "unauthorized", f"{access.value} {HOOKS_HEADER}")

    def lane_named(lane: str) -> TcpProxy:
        if lane not in lanes:
            raise AdminError(404, "unknown_lane", f"no lane {lane!r}; lanes: {', '.join(lanes)}")
        return lanes[lane]

    router = APIRouter(dependencies=[Depends(require_token)])

    @router.get("/proxies")
    async def proxies() -> dict[str, Any]:
        """Every lane: listen and upstream addresses, stats and toxics."""
        return {name: lane.snapshot() for name, lane in lanes.items()}

    @router.post("/proxies/{lane}/toxics", status_code=201)
    async def add_toxic(lane: str, toxic: Toxic, response: Response) -> dict[str, Any]:
        """Add a toxic (201); the same toxic again is a no-op (200), another one 409."""
        try:
            created = lane_named(lane).add_toxic(toxic)
        except ToxicConflict as exc:
            raise AdminError(409, "toxic_conflict", str(exc)) from None
        if not created:
            response.status_code = 200
        return toxic.model_dump()

    @router.delete("/proxies/{lane}/toxics/{name}", status_code=204)
    async def remove_toxic(lane: str, name: str) -> Response:
        """Remove a toxic; 404 unknown_toxic when the lane has none of that name."""
        target = lane_named(lane)
        try:
            target.remove_toxic(name)
        except KeyError:
            raise AdminError(404, "unknown_toxic", f"no toxic {name!r} on {lane}") from None
        return Response(status_code=204)

    app = FastAPI(title="db-proxy admin", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up (no token needed)."""
        return {"status": "ok"}

    app.include_router(router)

    install_json_errors(app, AdminError, log)

    # its own codes for a request that does not validate: a bad toxic, or a bad path/query
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = any(e["loc"][:1] == ("body",) for e in exc.errors())
        code = "invalid_toxic" if body else "invalid"
        return JSONResponse({"detail": validation_details(exc), "code": code}, 422)

    return app
