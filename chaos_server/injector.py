"""Injecting one fault, write-ahead: validate, record the intent, inject, record the state."""

import logging
import time
from typing import Any

from chaos_server.blast_radius import admit, validate
from chaos_server.errors import InjectionFailed, PreconditionRefused
from chaos_server.faults.base import FaultRefused
from chaos_server.models import FaultRecord, FaultState
from chaos_server.parts import ChaosParts
from chaos_server.reverter import revert_fault
from chaos_server.store.events import record_event
from chaos_server.store.lease import lock_admission
from chaos_server.store.ledger import finish, mark_active, record_intent
from lab.redaction import redact

log = logging.getLogger("chaos_server.inject")


def break_fault(
    *,
    parts: ChaosParts,
    fault_id: str,
    target: str | None,
    params: dict[str, Any],
    ttl_s: float | None,
    correlation_id: str,
) -> FaultRecord:
    """Inject a fault; every refusal comes before the intent row, every change after it."""
    started = time.monotonic()
    req = validate(
        settings=parts.settings,
        catalogue=parts.catalogue,
        fault_id=fault_id,
        target=target,
        params=params,
        ttl_s=ttl_s,
    )
    fault, ctx = req.fault, parts.ctx
    with parts.store.session() as session:  # refuse early; checked again under the lock
        admit(session, settings=parts.settings, target=req.target)
    try:
        prepared = fault.prepare(ctx, req.target, req.params)
    except FaultRefused as exc:
        raise PreconditionRefused(str(exc)) from None
    with parts.store.session() as session:
        lock_admission(session)
        admit(session, settings=parts.settings, target=req.target)
        row = record_intent(
            session,
            fault_id=fault.id,
            target=req.target,
            params=req.params.model_dump(mode="json"),
            ttl_s=req.ttl_s,
            revert_data=prepared,
            injector=parts.lease.key,
            correlation_id=correlation_id,
        )
        # The fault key is in the intent too: a revert after a crash mid-injection can name
        # exactly what the injection created (a hook, a toxic, a saved table).
        row.revert_data = {**prepared, "fault_key": str(row.id)}
        session.commit()  # the intent is durable before anything changes
    try:
        injected = fault.inject(ctx, req.target, req.params, str(row.id))
    except Exception as exc:
        log.exception("injection of %s on %s failed", fault.id, req.target)
        error = str(redact(f"{type(exc).__name__}: {exc}"))
        reverted = revert_fault(parts=parts, fault=row.id, reason="inject_failed")
        with parts.store.session() as session:
            finish(session, row.id, state=FaultState.failed, error=error)
        parts.metrics.injections.labels(fault.id, "failed").inc()
        record_event(
            parts.store,
            kind="inject_failed",
            message=f"{fault.id} on {req.target} failed: {error}",
            correlation_id=correlation_id,
            fault=row.id,
            fault_id=fault.id,
            target=req.target,
            data={"cleanup": reverted.state if reverted else None},
        )
        raise InjectionFailed(f"{fault.id} could not be injected: {error}") from None
    with parts.store.session() as session:
        still_ours = mark_active(session, row.id, injected)
        final = session.get(FaultRecord, row.id)
    if not still_ours:
        # A kill or a revert claimed the fault while it was being injected, with the intent's
        # data only: undo with everything the injection returned (reverts are idempotent).
        fault.revert(ctx, {**prepared, **injected})
    parts.metrics.injections.labels(fault.id, "ok").inc()
    parts.metrics.inject_seconds.labels(fault.id).observe(time.monotonic() - started)
    record_event(
        parts.store,
        kind="inject",
        message=f"{fault.id} injected on {req.target} for {req.ttl_s:g}s",
        correlation_id=correlation_id,
        fault=row.id,
        fault_id=fault.id,
        target=req.target,
        data={"params": final.params if final else {}, "ttl_s": req.ttl_s},
    )
    assert final is not None
    return final
