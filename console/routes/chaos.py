"""Chaos: the catalogue with a Break form, the active faults with Revert, the scenarios with
Run, and the kill switch (engage with confirmation, release). Every call carries the chaos
key server-side."""

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from console.actions import act
from console.clients import Services, attempt
from console.deps import Operator, Parts, Viewer
from console.errors import ServiceFailed
from console.render import page

router = APIRouter()
Name = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
BACK = "/chaos"
PARAMS_HELP = 'params must be a JSON object, e.g. {"delay_ms": 2500}'


def live_state(services: Services) -> dict[str, Any]:
    """The active faults and the kill switch."""
    active, active_error = attempt(
        services.chaos_call, "GET", "/faults", params={"state": "active", "limit": 100}
    )
    kill, kill_error = attempt(services.chaos_call, "GET", "/kill")
    return {
        "active": active or [],
        "active_error": active_error,
        "kill": kill,
        "kill_error": kill_error,
    }


@router.get("/chaos", response_class=HTMLResponse)
def chaos_page(request: Request, parts: Parts, session: Viewer) -> HTMLResponse:
    """The chaos page (active faults and the kill switch refresh every 2 s)."""
    services = parts.services
    catalogue, catalogue_error = attempt(services.chaos_call, "GET", "/catalogue")
    scenarios, scenarios_error = attempt(services.chaos_call, "GET", "/scenarios")
    return page(
        request,
        "chaos.html",
        session,
        catalogue=catalogue or [],
        catalogue_error=catalogue_error,
        scenarios=(scenarios or {}).get("scenarios", []),
        scenarios_error=scenarios_error,
        **live_state(services),
    )


@router.get("/chaos/live", response_class=HTMLResponse)
def chaos_live(request: Request, parts: Parts, session: Viewer) -> HTMLResponse:
    """The chaos page's live part."""
    return page(request, "chaos_live.html", session, **live_state(parts.services))


def _params(raw: str) -> dict[str, Any]:
    """The Break form's parameters: a JSON object (empty: the fault's defaults)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ServiceFailed("console", PARAMS_HELP, status=400) from None
    if not isinstance(value, dict):
        raise ServiceFailed("console", PARAMS_HELP, status=400)
    return value


@router.post("/chaos/break")
def break_fault(
    parts: Parts,
    session: Operator,
    fault: Annotated[str, Form(max_length=64, pattern=r"^[a-z0-9-]+$")],
    target: Annotated[str, Form(max_length=64)] = "",
    params: Annotated[str, Form(max_length=4000)] = "",
    ttl_s: Annotated[float | None, Form(gt=0)] = None,
) -> RedirectResponse:
    """Inject a fault (within the chaos server's blast radius; refusals shown)."""

    def run() -> Any:
        body = {"target": target.strip() or None, "params": _params(params), "ttl_s": ttl_s}
        return parts.services.chaos_call("POST", f"/break/{fault}", read=False, json=body)

    return act(
        parts,
        session,
        action="break",
        target=fault,
        params={"target": target, "params": params, "ttl_s": ttl_s},
        run=run,
        done=lambda r: f"injected {r['fault_id']} on {r['target']} (fault {r['id']})",
        back=BACK,
    )


@router.post("/chaos/faults/{fault_id}/revert")
def revert(parts: Parts, session: Operator, fault_id: uuid.UUID) -> RedirectResponse:
    """Revert one active fault now."""
    return act(
        parts,
        session,
        action="revert",
        target=str(fault_id),
        run=lambda: parts.services.chaos_call("DELETE", f"/faults/{fault_id}", read=False),
        done=lambda r: f"reverted {r['fault_id']} on {r['target']}: {r['state']}",
        back=BACK,
    )


@router.post("/chaos/scenarios/{name}/run")
def run_scenario(parts: Parts, session: Operator, name: Name) -> RedirectResponse:
    """Run a scenario now (its faults are rolled back before it answers)."""
    return act(
        parts,
        session,
        action="scenario",
        target=name,
        run=lambda: parts.services.chaos_call("POST", f"/scenarios/{name}/run", read=False),
        done=lambda r: f"scenario {name}: {r.get('status', '?')}",
        back=BACK,
    )


@router.post("/chaos/kill")
def kill(
    parts: Parts,
    session: Operator,
    confirm: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Engage the kill switch (revert every fault, refuse new ones); needs the confirmation."""

    def run() -> Any:
        if confirm != "yes":
            raise ServiceFailed(
                "console", "tick the confirmation to engage the kill switch", status=400
            )
        body = {"reason": f"console ({session.actor}): {reason or 'kill switch'}"}
        return parts.services.chaos_call("POST", "/kill", read=False, json=body)

    return act(
        parts,
        session,
        action="kill",
        target="chaos",
        params={"reason": reason},
        run=run,
        done=lambda r: f"kill switch engaged; reverted {len(r.get('reverted', []))} fault(s)",
        back=BACK,
    )


@router.post("/chaos/kill/release")
def release(parts: Parts, session: Operator) -> RedirectResponse:
    """Release the kill switch."""
    return act(
        parts,
        session,
        action="release",
        target="chaos",
        run=lambda: parts.services.chaos_call("POST", "/kill/release", read=False),
        done=lambda _: "kill switch released",
        back=BACK,
    )
