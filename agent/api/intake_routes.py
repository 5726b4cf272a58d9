"""Intake: Alertmanager/Grafana webhooks and the incident contract (token required)."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from agent.api.auth import require_token
from agent.api.deps import Parts
from agent.api.errors import AgentError, PayloadTooLarge, UnsupportedMediaType
from agent.intake import MAX_BODY_BYTES, Intake, decode, parse_contract, parse_webhook
from agent.model import Alert
from agent.parts import AgentParts
from agent.store.models import IntakeResult

router = APIRouter(dependencies=[Depends(require_token)])


async def _body(request: Request) -> Any:
    """The JSON body, refused before reading past MAX_BODY_BYTES."""
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type.lower():
        raise UnsupportedMediaType(f"content type must be application/json, not {content_type!r}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return decode(b"".join(chunks))


def _watched(parts: AgentParts, alerts: list[Alert]) -> list[Alert]:
    """The alerts about services the agent watches (all of them when the list is empty)."""
    watch = parts.settings.watch_services
    if not watch:
        return alerts
    return [a for a in alerts if a.service is None or a.service in watch]


async def _take(parts: AgentParts, intake: Intake) -> IntakeResult:
    alerts = intake.alerts if intake.contract is not None else _watched(parts, intake.alerts)
    ignored = len(intake.alerts) - len(alerts)
    if intake.contract is None:  # a maintenance window: firing alerts open nothing
        kept = [a for a in alerts if a.status == "resolved" or not parts.silences.covers(a.service)]
        silenced, alerts = len(alerts) - len(kept), kept
        parts.metrics.silenced.inc(silenced)
    else:
        silenced = 0
    result = await parts.store.ingest_async(
        alerts, group_key=intake.group_key, source=intake.source, contract=intake.contract
    )
    parts.metrics.alerts.labels(source=intake.source).inc(len(intake.alerts))
    parts.metrics.ignored.inc(ignored)
    result.ignored, result.silenced = ignored, silenced
    parts.metrics.duplicates.inc(result.duplicates)
    parts.metrics.resolved.inc(result.resolved)
    parts.metrics.opened.inc(len(result.opened))
    if parts.pipeline is not None:
        for incident_id in result.opened:
            parts.pipeline.submit(incident_id)
    return result


def _counted(parts: AgentParts, exc: AgentError) -> AgentError:
    parts.metrics.rejected.labels(code=exc.code).inc()
    return exc


@router.post("/webhook/alertmanager")
async def alertmanager(request: Request, parts: Parts) -> IntakeResult:
    """Alertmanager (v4) or Grafana alerting webhook: alerts deduplicated and correlated."""
    try:
        intake = parse_webhook(await _body(request))
    except AgentError as exc:
        raise _counted(parts, exc) from None
    return await _take(parts, intake)


@router.post("/webhook/incident")
async def incident(request: Request, parts: Parts) -> dict[str, Any]:
    """The incident contract: one incident straight away (or the open one it belongs to)."""
    try:
        intake = parse_contract(await _body(request))
    except AgentError as exc:
        raise _counted(parts, exc) from None
    result = await _take(parts, intake)
    incident_id = next(iter(result.opened + result.attached), None)
    if incident_id is None and intake.contract is not None:  # a repeat of a known incident
        found = await run_in_threadpool(
            parts.store.by_external_id, str(intake.contract["incident_id"])
        )
        incident_id = found.id if found else None
    return {**result.model_dump(), "incident_id": incident_id}
