"""The chaos server app: `create_app()` wires settings, ops-db, the catalogue and routes."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chaos_server.auth import load_key
from chaos_server.config import Settings, get_settings
from chaos_server.context import build_context
from chaos_server.errors import install_handlers
from chaos_server.faults import build_catalogue
from chaos_server.metrics import ChaosMetrics
from chaos_server.monkey import Monkey
from chaos_server.parts import ChaosParts
from chaos_server.routes import faults, health, kill, scenarios
from chaos_server.routes import proxy as proxy_routes
from chaos_server.scenarios.schedule import ScenarioBook
from chaos_server.store import Store
from chaos_server.store.lease import Lease
from chaos_server.watchdog import run_watchdog, sweep
from lab.config import LabSettings
from lab.runtime.base import Runtime
from lab.service_app import service_app

log = logging.getLogger("chaos_server")


def create_app(
    settings: Settings | None = None,
    *,
    lab: LabSettings | None = None,
    runtime: Runtime | None = None,
    watchdog: bool = True,
) -> FastAPI:
    """A chaos server for the lab described by `lab` (BREAKFIX_* settings by default)."""
    settings = settings or get_settings()
    store = Store(settings.ops_db_url.get_secret_value())
    parts = ChaosParts(
        settings=settings,
        key=load_key(settings.key_file),
        store=store,
        lease=Lease(store),
        catalogue=build_catalogue(),
        metrics=ChaosMetrics(),
        ctx=build_context(settings, lab or LabSettings(), runtime),
    )
    book = ScenarioBook(parts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(parts.lease.acquire)
        # Reconcile before serving: faults of dead injectors and expired ones are reverted.
        reverted = await asyncio.to_thread(sweep, parts)
        log.info("reconciled the ledger at start: %d fault(s) reverted", reverted)
        tasks = [asyncio.create_task(run_watchdog(parts))] if watchdog else []
        if settings.monkey_enabled:
            log.warning("chaos monkey enabled on %s", ", ".join(settings.monkey_targets) or "-")
            tasks.append(asyncio.create_task(Monkey.for_parts(parts).run()))
        await asyncio.to_thread(book.start)
        try:
            yield
        finally:
            await asyncio.to_thread(book.stop)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            parts.lease.release()
            store.dispose()

    # The body limit comes before the key check: no body is read past its limit.
    app = service_app(
        "Breakfix chaos server",
        description="Fault injection with a write-ahead ledger, TTLs, blast radius, kill switch.",
        lifespan=lifespan,
        install_handlers=install_handlers,
        routers=[m.router for m in (health, faults, kill, scenarios, proxy_routes)],
        parts=parts,
    )
    app.state.scenarios = book
    return app
