"""`/healthz` (no key) and `/metrics` (chaos key)."""

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chaos_server.auth import require_chaos_key
from chaos_server.deps import Parts

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/metrics", dependencies=[Depends(require_chaos_key)])
def metrics(parts: Parts) -> Response:
    """Prometheus exposition of the chaos server's own metrics."""
    return Response(generate_latest(parts.metrics.registry), media_type=CONTENT_TYPE_LATEST)
