"""The check every business request passes: added latency, then the poisoned state."""

import asyncio
import logging

from fastapi import Request

from target_server.fault_hooks.errors import CatalogueStateError
from target_server.fault_hooks.state import FaultHooks

log = logging.getLogger("target_server.catalogue")


async def consult_fault_hooks(request: Request) -> None:
    """Sleep the hooks' latency (on the event loop), then fail if the state is poisoned."""
    hooks: FaultHooks = request.app.state.runtime.fault_hooks
    delay = hooks.added_latency_s()
    if delay > 0:
        await asyncio.sleep(delay)
    if hooks.poisoned():
        log.error(
            "catalogue index inconsistent: entry checksum mismatch",
            extra={"error_type": "CatalogueIndexError", "path": request.url.path},
        )
        raise CatalogueStateError("internal server error")
