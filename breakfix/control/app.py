"""The supervisor's control endpoint: the `local` runtime backend, on loopback, token-guarded."""

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query

from breakfix.supervisor import Supervisor
from lab.body_limit import BodyLimit
from lab.errors import LabError
from lab.http_errors import install_json_errors
from lab.runtime.models import LogTail, ProcessStats, ServiceStatus, SignalRequest
from lab.tokens import same_token

log = logging.getLogger("breakfix.control")


class ControlError(LabError):
    """An error answered by the control endpoint."""

    status_code = 400


class Unauthorized(ControlError):
    status_code = 401
    code = "unauthorized"


class NotRunning(ControlError):
    status_code = 409
    code = "service_not_running"


def create_app(*, supervisor: Supervisor, token: str) -> FastAPI:
    """The control API bound to one supervisor."""

    def require_token(
        authorization: Annotated[str | None, Header()] = None,
        x_control_token: Annotated[str | None, Header()] = None,
    ) -> None:
        given = x_control_token or (authorization or "").removeprefix("Bearer ").strip()
        if not same_token(given, token):
            raise Unauthorized("missing or invalid control token")

    app = FastAPI(title="breakfix supervisor control", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit)
    install_json_errors(app, LabError, log)  # no input echoed, the unexpected logged
    api = APIRouter(dependencies=[Depends(require_token)])

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The supervisor is up."""
        return {"status": "ok"}

    @api.get("/services")
    async def list_services() -> list[ServiceStatus]:
        """Every service with a live health probe."""
        return await supervisor.list()

    @api.get("/services/{name}")
    async def get_service(name: str) -> ServiceStatus:
        """One service with a live health probe."""
        return await supervisor.status(name)

    # start a stopped service; stop one (the supervisor will not restart it); restart one,
    # frozen or not: one handler each, at its own path (a `{verb}` path would shadow /signal)
    for verb in (supervisor.start, supervisor.stop, supervisor.restart):
        api.add_api_route(
            f"/services/{{name}}/{verb.__name__}",
            verb,
            methods=["POST"],
            response_model=ServiceStatus,
            summary=f"{verb.__name__} a service",
        )

    @api.post("/services/{name}/signal")
    async def send_signal(name: str, body: SignalRequest) -> ServiceStatus:
        """Deliver a signal to the service's main process."""
        return await supervisor.send_signal(name, body.number())

    @api.get("/services/{name}/stats")
    async def stats(name: str) -> ProcessStats:
        """CPU, RSS, threads and open files of the service's process tree."""
        result = await asyncio.to_thread(supervisor.stats, name)
        if result is None:
            raise NotRunning(f"{name} is not running")
        return result

    @api.get("/services/{name}/logs")
    async def logs(name: str, lines: Annotated[int, Query(ge=1, le=5000)] = 100) -> LogTail:
        """The last lines of the service's log."""
        return LogTail(service=name, lines=await asyncio.to_thread(supervisor.logs, name, lines))

    app.include_router(api)
    return app
