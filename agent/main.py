"""The agent app: intake, incidents API, approvals; the pipeline runs in the background."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent.api import health_routes, incident_routes, intake_routes
from agent.api.auth import read_token
from agent.api.deps import AgentParts, PipelineLike
from agent.api.errors import install_handlers
from agent.config import Settings, get_settings
from agent.metrics import AgentMetrics
from agent.store import IncidentStore

log = logging.getLogger("agent")


def build_real_pipeline(settings: Settings, store: IncidentStore) -> PipelineLike:
    """The knowledge index (built or refreshed) and agent.pipeline's real pipeline."""
    from agent.pipeline import build_pipeline
    from knowledge.index import KnowledgeIndex

    index = KnowledgeIndex(
        settings.state_dir, runbook_dir=settings.runbook_dir, embedding=settings.embedding
    )
    rebuilt = index.ensure()
    log.info(
        "knowledge index %s (%s embeddings, %d runbooks)",
        "rebuilt" if rebuilt else "up to date",
        index.embedding_name,
        len(index.runbooks),
    )
    return build_pipeline(settings, store, knowledge=index)


def create_app(
    settings: Settings | None = None, *, pipeline: PipelineLike | None = None
) -> FastAPI:
    """The agent for `settings` (AGENT_* by default); `pipeline` replaces the real one (tests)."""
    settings = settings or get_settings()
    token = read_token(settings.intake_token_file)
    metrics = AgentMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = IncidentStore(settings.ops_db_url.get_secret_value())
        metrics.watch_store(states=store.counts_by_state, actions=store.action_counts)
        running = pipeline or build_real_pipeline(settings, store)
        app.state.parts = AgentParts(
            settings=settings, store=store, metrics=metrics, token=token, pipeline=running
        )
        running.start()
        resumed = store.open_incidents()  # left open by a previous run
        for incident in resumed:
            running.submit(incident.id)
        log.info(
            "agent ready on %s:%d (%d open incidents resumed)",
            settings.host,
            settings.port,
            len(resumed),
        )
        try:
            yield
        finally:
            running.stop()
            store.dispose()

    app = FastAPI(
        title="Breakfix agent",
        version="0.1.0",
        description="Alert intake, incidents, approvals; perceive-diagnose-plan-act-verify.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.include_router(health_routes.router)
    app.include_router(intake_routes.router)
    app.include_router(incident_routes.router)
    return app
