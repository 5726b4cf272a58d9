"""The lab: every service's health, pid, CPU and memory; firing alerts; the kill switch;
start, stop and restart for the operator."""

from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from console.actions import act
from console.clients import Services, attempt
from console.deps import Operator, Parts, Viewer
from console.render import page
from lab.runtime.models import ServiceStatus

router = APIRouter()
SERIES_S = 300  # the sparklines' window
ServiceName = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$")]


def _series(services: Services, metric: str) -> dict[str, list[float]]:
    body = services.call(
        "observability",
        services.observability,
        "GET",
        "/series",
        params={"metric": metric, "since": SERIES_S},
    )
    by_service: dict[str, list[float]] = defaultdict(list)
    for point in body.get("points", []):
        by_service[str(point["service"])].append(float(point["value"]))
    return by_service


def _firing(services: Services) -> list[dict[str, Any]]:
    alerts = services.call("observability", services.observability, "GET", "/alerts")
    return [a for a in alerts if a.get("status", "firing") == "firing"][:50]


def lab_state(services: Services) -> dict[str, Any]:
    """What the lab page shows; a service that does not answer is a message, not a failure."""
    listed, services_error = attempt(services.services)
    cpu, cpu_error = attempt(_series, services, "process_cpu_ratio")
    rss, rss_error = attempt(_series, services, "process_rss_bytes")
    alerts, alerts_error = attempt(_firing, services)
    kill, kill_error = attempt(services.chaos_call, "GET", "/kill")
    rows: list[ServiceStatus] = listed or []
    return {
        "services": rows,
        "services_error": services_error,
        "cpu": cpu or {},
        "rss": rss or {},
        "series_error": cpu_error or rss_error,
        "alerts": alerts or [],
        "alerts_error": alerts_error,
        "kill": kill,
        "kill_error": kill_error,
        "all_healthy": bool(rows) and all(s.health == "healthy" for s in rows),
    }


@router.get("/lab", response_class=HTMLResponse)
def lab_page(request: Request, parts: Parts, session: Viewer) -> HTMLResponse:
    """The lab page (its live part refreshes every 2 s)."""
    return page(request, "lab.html", session, **lab_state(parts.services))


@router.get("/lab/live", response_class=HTMLResponse)
def lab_live(request: Request, parts: Parts, session: Viewer) -> HTMLResponse:
    """The lab page's live part."""
    return page(request, "lab_live.html", session, **lab_state(parts.services))


@router.post("/lab/services/{name}/{verb}")
def control(
    parts: Parts, session: Operator, name: ServiceName, verb: Literal["start", "stop", "restart"]
) -> RedirectResponse:
    """Start, stop or restart a service through the supervisor."""
    return act(
        parts,
        session,
        action=verb,
        target=name,
        run=lambda: parts.services.control(verb, name),
        done=lambda s: f"{verb} {name}: now {s.health} (pid {s.pid or '-'})",
        back="/lab",
    )
