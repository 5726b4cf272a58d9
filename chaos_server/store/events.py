"""Chaos events in ops-db: every inject, revert, expiry and kill, with its correlation id."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from chaos_server.models import ChaosEvent
from chaos_server.store import Store
from lab.redaction import redact

log = logging.getLogger("chaos_server.events")


def record_event(
    store: Store,
    *,
    kind: str,
    message: str,
    correlation_id: str,
    fault: uuid.UUID | None = None,
    fault_id: str | None = None,
    target: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Store one event; a failing recorder is logged and never breaks what it records."""
    log.info("%s: %s [%s]", kind, message, correlation_id)
    try:
        with store.session() as session:
            session.add(
                ChaosEvent(
                    ts=datetime.now(UTC),
                    kind=kind,
                    fault=fault,
                    fault_id=fault_id,
                    target=target,
                    correlation_id=correlation_id,
                    message=message,
                    data=redact(data or {}),
                )
            )
            session.commit()
    except Exception as exc:  # an observer never breaks the run it observes
        log.warning("chaos event %s not stored: %s", kind, type(exc).__name__)
