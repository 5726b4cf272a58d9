"""Start-up: what a stopped action server left behind is dealt with before anyone is served."""

import logging

from action_server import runs
from action_server.audit_ahead import interrupt_started
from action_server.context import ActionContext
from action_server.errors import StoreUnavailable
from action_server.store import Store
from lab.tied import reap_orphans

log = logging.getLogger("action_server")
REAP_TIMEOUT_S = 30.0


def recover(*, ctx: ActionContext, store: Store) -> None:
    """Kill and wait for the client tools a dead action server left running (its target
    lock went with its ops-db session), then mark its runs, Idempotency-Key claims and
    audit rows interrupted."""
    reaped = reap_orphans(ctx.children_dir, timeout=REAP_TIMEOUT_S)
    if reaped:
        log.warning("killed %d client tools left running by the last stop: %s", len(reaped), reaped)
    try:
        interrupted = runs.reconcile(store=store)
        requests = interrupt_started(store=store)
    except StoreUnavailable:
        log.error("ops-db unreachable at start-up: runs not reconciled")
        return
    if interrupted or requests:
        log.warning("the last stop interrupted %d runs (%d requests)", interrupted, requests)
