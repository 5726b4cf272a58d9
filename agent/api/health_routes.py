"""/healthz and /metrics."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from agent.api.deps import Parts
from agent.api.errors import StoreUnavailable

router = APIRouter()


@router.get("/healthz")
async def healthz(parts: Parts) -> JSONResponse:
    """ok when ops-db answers; 503 `ops_db_unavailable` otherwise."""
    try:
        await run_in_threadpool(parts.store.ping)
    except (StoreUnavailable, SQLAlchemyError):
        return JSONResponse({"status": "degraded", "code": "ops_db_unavailable"}, 503)
    status = "running" if parts.pipeline is not None else parts.pipeline_status
    return JSONResponse({"status": "ok", "pipeline": status})


@router.get("/metrics")
async def metrics(parts: Parts) -> Response:
    """Prometheus exposition of the agent's own metrics."""
    body = await run_in_threadpool(generate_latest, parts.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
