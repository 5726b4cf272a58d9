"""Audit: one ops-db row for every request, refused ones included, with a correlation id."""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.types import ASGIApp

from action_server.audit_params import audited_params
from action_server.keys import key_id_of
from action_server.models import AuditEntry
from action_server.store import Store
from lab.redaction import clean_text, redact

log = logging.getLogger("action_server.audit")
CORRELATION_HEADER = "X-Correlation-ID"
UNAUDITED = ("/healthz", "/metrics")


def _outcome(status: int) -> str:
    return "ok" if status < 400 else "refused" if status < 500 else "error"


def _clean_or_none(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def audit_entry(request: Request, *, status: int, elapsed_s: float) -> AuditEntry:
    """The request's audit row as its state says now (the write-ahead row's id kept)."""
    state = request.state
    presented = (
        request.headers.get("x-api-key")
        or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    )
    params = getattr(state, "audit_params", None)
    if params is None and getattr(state, "key_id", None):
        # Refused before the route ran (invalid parameters): a known key's body as parsed,
        # bounded by lab.body_limit. An anonymous body is never kept.
        params = getattr(state, "rejected_body", None)
    return AuditEntry(
        id=getattr(state, "audit_id", None),
        ts=datetime.now(UTC),
        key_id=getattr(state, "key_id", None),
        claimed_key_id=None if getattr(state, "key_id", None) else key_id_of(presented),
        method=request.method,
        path=clean_text(request.url.path),
        action=_clean_or_none(getattr(state, "audit_action", None)),
        params=audited_params(redact(params)),
        dry_run=bool(getattr(state, "dry_run", False)),
        outcome=getattr(state, "audit_outcome", None) or _outcome(status),
        status_code=status,
        error_code=getattr(state, "error_code", None),
        run_id=getattr(state, "run_id", None),
        duration_ms=round(elapsed_s * 1000, 3),
        correlation_id=state.correlation_id,
    )


class AuditMiddleware(BaseHTTPMiddleware):
    """Times the request, sets the correlation id, and writes the audit row afterwards."""

    def __init__(self, app: ASGIApp, *, store_of: Callable[[], Store]) -> None:
        super().__init__(app)
        self._store_of = store_of
        self.failures = 0

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        given = request.headers.get(CORRELATION_HEADER, "")
        correlation_id = given if 0 < len(given) <= 128 else uuid.uuid4().hex
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        if request.method == "POST" and request.url.path.startswith("/action/"):
            # Kept for the audit row even when the request is refused before the route runs.
            request.state.audit_action = request.url.path.removeprefix("/action/")
        # The body is not read here: lab.body_limit, inside, refuses one too large or too
        # deep first (its code left in the state), and the route records the parameters.
        response = await self._call(request, call_next)
        response.headers[CORRELATION_HEADER] = correlation_id
        if request.url.path not in UNAUDITED:
            elapsed_s = time.perf_counter() - started
            entry = audit_entry(request, status=response.status_code, elapsed_s=elapsed_s)
            try:
                await run_in_threadpool(self._write, entry)
            except Exception:  # an audit failure is reported and counted, never hidden
                self.failures += 1
                log.exception("audit row not written for %s", correlation_id)
        return response

    async def _call(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            return await call_next(request)
        except Exception:  # answered here so that the crash is audited like any request
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            request.state.error_code = "internal_error"
            return JSONResponse({"detail": "internal error", "code": "internal_error"}, 500)

    def _write(self, entry: AuditEntry) -> None:
        with self._store_of().session() as session:
            session.merge(entry)  # completes the request's write-ahead row when it has one
            session.commit()


def query_audit(
    *,
    session: Session,
    key_id: str | None,
    action: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[AuditEntry]:
    """Audit rows, newest first, filtered."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if key_id:
        stmt = stmt.where(AuditEntry.key_id == key_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if since:
        stmt = stmt.where(AuditEntry.ts >= since)
    if until:
        stmt = stmt.where(AuditEntry.ts <= until)
    return list(session.scalars(stmt))


__all__ = ["CORRELATION_HEADER", "AuditMiddleware", "audit_entry", "query_audit"]
