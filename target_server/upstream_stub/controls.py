"""The stub's token-guarded controls: the switch the upstream-outage fault flips.

Accepted only with the victims' hooks token (read from its file on every call, so a rotated
token applies at once); no file, or an empty one, means the controls are disabled (404).
An outage lives in memory only: a restarted stub has none.
"""

import asyncio
import threading
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lab.hooks_token import HOOKS_HEADER, HooksAccess, check_hooks_token

PREFIX = "/_control"
_POLL_S = 0.05


class Outage(BaseModel):
    """Pricing calls fail (`error`: 503 at once) or hang (`timeout`: up to `delay_s`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mode: Literal["error", "timeout"]
    fault_key: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    delay_s: float = Field(30.0, gt=0, le=300)


class Outages:
    """The active outages by fault key; the latest one decides how a call fails."""

    def __init__(self) -> None:
        self._active: dict[str, Outage] = {}
        self._lock = threading.Lock()

    def set(self, outage: Outage) -> None:
        with self._lock:
            self._active.pop(outage.fault_key, None)
            self._active[outage.fault_key] = outage

    def clear(self, fault_key: str) -> bool:
        with self._lock:
            return self._active.pop(fault_key, None) is not None

    def current(self) -> Outage | None:
        with self._lock:
            return next(reversed(self._active.values()), None)

    def listed(self) -> list[Outage]:
        with self._lock:
            return list(self._active.values())


async def outage_response(outages: Outages) -> Response | None:
    """The failure a pricing call gets now, or None to serve it normally."""
    outage = outages.current()
    if outage is None:
        return None
    if outage.mode == "timeout":
        # Hang past any sane client timeout; a call still waiting when the outage is
        # cleared is served normally.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + outage.delay_s
        while outages.current() is not None and loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
        if outages.current() is None:
            return None
    return JSONResponse(
        {"detail": "pricing service unavailable", "code": "upstream_outage"}, status_code=503
    )


def control_router(outages: Outages, token_file: Path | None) -> APIRouter:
    """The `/_control` routes, guarded by the hooks token."""

    def require_token(request: Request) -> None:
        access = check_hooks_token(token_file, request.headers.get(HOOKS_HEADER))
        if access is HooksAccess.disabled:
            raise HTTPException(status_code=404, detail="controls disabled")
        if access is not HooksAccess.ok:
            raise HTTPException(status_code=401, detail="missing or invalid hooks token")

    router = APIRouter(
        prefix=PREFIX, include_in_schema=False, dependencies=[Depends(require_token)]
    )

    @router.get("")
    def show() -> dict[str, list[dict[str, object]]]:
        """The active outages."""
        return {"outages": [o.model_dump() for o in outages.listed()]}

    @router.post("/outage", status_code=201)
    def start_outage(outage: Outage) -> dict[str, object]:
        """Start (or replace) the outage named by its fault key."""
        outages.set(outage)
        return outage.model_dump()

    @router.delete("/outage/{fault_key}", status_code=204)
    def end_outage(fault_key: str) -> Response:
        """End one outage; 404 when this stub has no such outage (e.g. it restarted)."""
        if not outages.clear(fault_key):
            raise HTTPException(status_code=404, detail="no such outage")
        return Response(status_code=204)

    return router
