"""The action server app: `create_app()` wires settings, ops-db, catalogue, limits and routes."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from action_server.actions import CATALOGUE
from action_server.audit import AuditMiddleware
from action_server.background import start_jobs
from action_server.config import Settings, get_settings
from action_server.errors import install_handlers
from action_server.metrics import ActionMetrics
from action_server.parts import ActionParts, build_context
from action_server.ratelimit import RateLimits
from action_server.recovery import recover
from action_server.routes import actions, health
from action_server.routes import runs as run_routes
from action_server.store import Store
from lab.config import LabSettings
from lab.runtime.base import Runtime
from lab.service_app import service_app

log = logging.getLogger("action_server")


def create_app(
    settings: Settings | None = None,
    *,
    lab: LabSettings | None = None,
    runtime: Runtime | None = None,
    background: bool = True,
) -> FastAPI:
    """An action server for the lab described by `lab` (BREAKFIX_* settings by default)."""
    settings = settings or get_settings()
    parts = ActionParts(
        settings=settings,
        store=Store(settings.ops_db_url.get_secret_value()),
        catalogue=CATALOGUE,
        limits=RateLimits(settings),
        metrics=ActionMetrics(),
        ctx=build_context(settings, lab or LabSettings(), runtime),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before serving: a dead server's children are gone before any target is taken.
        await run_in_threadpool(recover, ctx=parts.ctx, store=parts.store)
        scheduler = (
            start_jobs(settings=settings, ctx=parts.ctx, store=parts.store) if background else None
        )
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            parts.store.dispose()

    app = service_app(
        "Breakfix action server",
        description="Authenticated, rate-limited, idempotent, audited remediation of the lab.",
        lifespan=lifespan,
        install_handlers=install_handlers,
        routers=(health.router, actions.router, run_routes.router),
        parts=parts,
    )
    # Outside the body limit: a refused body is audited, unread.
    app.add_middleware(AuditMiddleware, store_of=lambda: parts.store)
    return app
