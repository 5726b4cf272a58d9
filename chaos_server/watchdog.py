"""The watchdog: reverts faults at expiry, and those whose injector died (reconcile)."""

import asyncio
import logging
import uuid
from datetime import timedelta

from chaos_server.models import FaultState
from chaos_server.parts import ChaosParts
from chaos_server.reverter import revert_fault
from chaos_server.store.killswitch import latch
from chaos_server.store.lease import injector_alive
from chaos_server.store.ledger import now, open_faults

log = logging.getLogger("chaos_server.watchdog")


def due_reverts(parts: ChaosParts) -> list[tuple[uuid.UUID, str, tuple[str, ...]]]:
    """(fault, reason, claimable states) for every open fault that must be reverted now."""
    grace = timedelta(seconds=max(10.0, 10 * parts.settings.watchdog_interval_s))
    moment, mine = now(), parts.lease.key
    due: list[tuple[uuid.UUID, str, tuple[str, ...]]] = []
    with parts.store.session() as session:
        parts.metrics.kill_engaged.set(1 if latch(session).engaged else 0)
        rows = open_faults(session)
        parts.metrics.open_faults.set(len(rows))
        for row in rows:
            state = (row.state,)
            if row.injector != mine and not injector_alive(session, row.injector):
                due.append((row.id, "injector_died", state))
            elif row.injector == mine and row.state == FaultState.active:
                if row.expires_at <= moment:
                    due.append((row.id, "expired", state))
            elif row.injector != mine and row.expires_at + grace <= moment:
                # Its owner lives but has not reverted it well past expiry: do it for it.
                due.append((row.id, "expired", state))
        session.rollback()  # lets go of the probe locks taken on dead leases
    return due


def sweep(parts: ChaosParts) -> int:
    """Revert everything due; the number of faults reverted (or failed) by this sweep."""
    done = 0
    for fault, reason, states in due_reverts(parts):
        if revert_fault(parts=parts, fault=fault, reason=reason, states=states) is not None:
            done += 1
    return done


async def run_watchdog(parts: ChaosParts) -> None:
    """Sweep every `watchdog_interval_s` until cancelled; a failing sweep never stops it."""
    while True:
        await asyncio.sleep(parts.settings.watchdog_interval_s)
        try:
            await asyncio.to_thread(sweep, parts)
        except Exception:
            parts.metrics.sweep_failures.inc()
            log.exception("watchdog sweep failed")
