"""`/healthz` and `/metrics`: no key needed."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from action_server.deps import Parts

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/metrics")
def metrics(parts: Parts) -> Response:
    """Prometheus exposition of the action server's own metrics."""
    return Response(generate_latest(parts.metrics.registry), media_type=CONTENT_TYPE_LATEST)
