"""Liveness, readiness and metrics endpoints."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from target_server.deps import RuntimeDep
from target_server.readiness import run_checks
from target_server.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive; touches no dependency."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(runtime: RuntimeDep) -> JSONResponse:
    """Whether db, migrations, cache and upstream are all usable; 503 when one is not."""
    result = run_checks(runtime)
    status = 200 if result.status == "ready" else 503
    return JSONResponse(result.model_dump(), status_code=status)


@router.get("/metrics")
def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition of this app's registry."""
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
