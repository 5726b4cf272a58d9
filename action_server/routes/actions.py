"""`GET /actions` and `POST /action/{name}`: the catalogue and running an action."""

import json
import uuid
from contextlib import nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from action_server import idempotency, runs
from action_server.audit_ahead import write_ahead
from action_server.deps import Caller, Parts, require_scope
from action_server.errors import (
    ActionServerError,
    NotFound,
)
from action_server.keys import Scope
from action_server.locks import target_lock
from action_server.schemas import run_out

router = APIRouter()


@router.get("/actions")
def list_actions(parts: Parts, key: Caller) -> list[dict[str, Any]]:
    """The catalogue: parameters (JSON schema), risk, idempotency, target and undo."""
    require_scope(key, Scope.read)
    parts.limits.hit(key_id=key.id, action_class="read")
    return [spec.describe() for spec in parts.catalogue.values()]


@router.post("/action/{name}", status_code=201)
def run_action(
    name: str,
    request: Request,
    parts: Parts,
    key: Caller,
    body: Annotated[dict[str, Any] | None, Body()] = None,
    dry_run: Annotated[bool, Query(description="Validate and describe; change nothing.")] = False,
    wait: Annotated[bool, Query(description="Wait for a busy target instead of 409.")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Run (or dry-run) one catalogue action; 201 with the run, whatever its status."""
    state = request.state
    state.audit_action, state.dry_run, state.audit_params = name, dry_run, body or {}
    spec = parts.catalogue.get(name)
    if spec is None:
        raise NotFound(f"no action named {name!r}; GET /actions lists them")
    require_scope(key, Scope.read if dry_run else Scope.act)
    parts.limits.hit(key_id=key.id, action_class="dry_run" if dry_run else spec.risk.value)
    try:
        params = spec.params.model_validate(body or {}, strict=True)  # true is not 1
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    claimed = False
    if idempotency_key:
        fingerprint = idempotency.request_hash(
            method="POST",
            path=request.url.path,
            query={"dry_run": str(dry_run), "wait": str(wait)},
            body=body or {},
        )
        replay = idempotency.claim(
            store=parts.store,
            key_id=key.id,
            key=idempotency_key,
            fingerprint=fingerprint,
            wait_s=parts.settings.idempotency_wait_s,
        )
        if replay is not None:
            state.audit_outcome = "replayed"
            return JSONResponse(
                replay.body, replay.status_code, headers={"Idempotent-Replayed": "true"}
            )
        claimed = True
    try:
        response = _run(
            spec_name=name,
            params=params,
            dry_run=dry_run,
            wait=wait,
            request=request,
            parts=parts,
            key_id=key.id,
        )
    except ActionServerError as exc:
        # A refusal changed nothing (precondition, busy target, ...): a retry may act.
        if claimed:
            idempotency.release(store=parts.store, key_id=key.id, key=idempotency_key or "")
        parts.metrics.refusals.labels(exc.code).inc()
        raise
    # Anything else may have happened after acting: the claim stays, so no retry acts twice.
    if claimed:
        idempotency.complete(
            store=parts.store,
            key_id=key.id,
            key=idempotency_key or "",
            status_code=response.status_code,
            body=json.loads(bytes(response.body)),
        )
    return response


def _run(
    *,
    spec_name: str,
    params: Any,
    dry_run: bool,
    wait: bool,
    request: Request,
    parts: Parts,
    key_id: str,
) -> JSONResponse:
    spec = parts.catalogue[spec_name]
    lock = (
        target_lock(
            store=parts.store,
            targets=(spec.target, *spec.also_locks),
            wait_s=parts.settings.lock_wait_s if wait else 0.0,
        )
        if spec.mutating and not dry_run
        else nullcontext()
    )
    caller = runs.Caller(key_id=key_id, correlation_id=request.state.correlation_id)
    run_id = uuid.uuid4()
    if not dry_run:  # a server killed from here on still leaves the request's audit row
        write_ahead(request=request, store=parts.store, run_id=run_id)
    with lock:
        run = runs.execute(
            spec=spec,
            params=params,
            dry_run=dry_run,
            ctx=parts.ctx,
            store=parts.store,
            caller=caller,
            run_id=run_id,
        )
    request.state.run_id = run.id
    request.state.audit_outcome = run.status
    parts.metrics.runs.labels(spec.name, run.status, str(dry_run).lower()).inc()
    parts.metrics.duration.labels(spec.name).observe(run.duration_ms / 1000)
    body = run_out(run, undoable=spec.revert is not None).model_dump(mode="json")
    return JSONResponse(body, 200 if dry_run else 201, headers={"Location": f"/runs/{run.id}"})
