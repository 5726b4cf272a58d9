"""The agent app: intake, incidents API, approvals; the pipeline runs in the background."""

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent.api import health_routes, incident_routes, intake_routes, silence_routes
from agent.api.auth import load_approvers, read_token
from agent.api.errors import install_handlers
from agent.config import Settings, get_settings
from agent.intake import MAX_BODY_BYTES as MAX_NOTIFICATION_BYTES
from agent.metrics import AgentMetrics
from agent.parts import AgentParts, PipelineLike
from agent.reconcile import reconcile_with_observability
from agent.store import IncidentStore
from lab.service_app import service_app

log = logging.getLogger("agent")


def build_real_pipeline(settings: Settings, store: IncidentStore) -> PipelineLike:
    """The knowledge index (built or refreshed) and agent.pipeline's real pipeline."""
    from agent.pipeline import build_pipeline, open_knowledge

    index = open_knowledge(settings)
    rebuilt = index.ensure()
    log.info(
        "knowledge index %s (%s embeddings, %d runbooks)",
        "rebuilt" if rebuilt else "up to date",
        index.embedding_name,
        len(index.runbooks),
    )
    return build_pipeline(settings, store, knowledge=index)


def _run_pipeline(parts: AgentParts, running: PipelineLike) -> None:
    """Hand incidents to `running` from now on, including those left open before."""
    parts.pipeline = running  # first: an incident opened from now on is submitted by intake
    running.start()
    resumed = parts.store.open_incidents()  # left open by a previous run, or while starting
    for incident in resumed:
        running.submit(incident.id)
    log.info("pipeline running (%d open incidents resumed)", len(resumed))


def _start_real_pipeline(parts: AgentParts) -> None:
    reconcile_with_observability(parts.settings, parts.store)
    try:
        _run_pipeline(parts, build_real_pipeline(parts.settings, parts.store))
        parts.pipeline_status = "running"
    except Exception:
        parts.pipeline_status = "failed"
        log.exception("the pipeline could not start: incidents are recorded, not handled")


def create_app(
    settings: Settings | None = None, *, pipeline: PipelineLike | None = None
) -> FastAPI:
    """The agent for `settings` (AGENT_* by default); `pipeline` replaces the real one (tests)."""
    settings = settings or get_settings()
    token = read_token(settings.intake_token_file)
    approvers = load_approvers(settings.approvers_file, intake_token=token)
    if not approvers.tokens:
        log.warning("no approvers (AGENT_APPROVERS_FILE): approval requests will time out")
    metrics = AgentMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = IncidentStore(
            settings.ops_db_url.get_secret_value(),
            handover_s=settings.handover_s,
            alert_expiry_s=settings.alert_expiry_s,
        )
        metrics.watch_store(states=store.counts_by_state, actions=store.action_counts)
        parts = AgentParts(
            settings=settings, store=store, metrics=metrics, token=token, approvers=approvers
        )
        app.state.parts = parts
        starter: threading.Thread | None = None
        if pipeline is not None:
            _run_pipeline(parts, pipeline)
        else:  # the index and models take a while: take alerts meanwhile, handle them after
            starter = threading.Thread(
                target=_start_real_pipeline, args=(parts,), name="agent-start", daemon=True
            )
            starter.start()
        try:
            yield
        finally:
            if starter is not None:
                starter.join(timeout=120)
            if parts.pipeline is not None:
                parts.pipeline.stop()
            store.dispose()

    # The body limit comes before the token check; an Alertmanager notification may group
    # thousands of alerts.
    return service_app(
        "Breakfix agent",
        description="Alert intake, incidents, approvals; perceive-diagnose-plan-act-verify.",
        lifespan=lifespan,
        install_handlers=install_handlers,
        routers=[m.router for m in (health_routes, intake_routes, incident_routes, silence_routes)],
        wider_bodies={"/webhook/": MAX_NOTIFICATION_BYTES},
    )
