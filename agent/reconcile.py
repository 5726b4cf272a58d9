"""On start: the agent's firing alert records reconciled with what observability reports.

A lab stopped with alerts firing leaves their records firing in ops-db, and no resolved
notification ever follows (observability also resolves what its earlier process left, on
its own start). Whatever was last received before this start and is not firing at
observability now is resolved, so no escalated outage of an earlier run holds on to alerts
that are gone. Observability not answering: nothing is touched (the records then expire).
"""

import logging
import time
from datetime import UTC, datetime, timedelta

from agent.config import Settings
from agent.perceive import ObservabilityClient
from agent.store import IncidentStore

log = logging.getLogger("agent.reconcile")
TRIES, PAUSE_S = 3, 1.0


def reconcile_with_observability(settings: Settings, store: IncidentStore) -> int:
    """How many firing records were resolved (0 when observability could not be read)."""
    started = datetime.now(UTC)
    client = ObservabilityClient(settings.observability_url, timeout=settings.http_timeout_s)
    try:
        firing = client.firing_fingerprints()
        for _ in range(TRIES - 1):
            if firing is not None:
                break
            time.sleep(PAUSE_S)
            firing = client.firing_fingerprints()
    finally:
        client.close()
    if firing is None:
        log.warning("observability unreadable at start: firing alerts left to expire")
        return 0
    try:
        resolved = store.reconcile_alerts(
            firing=firing, received_before=started - timedelta(seconds=5)
        )
    except Exception:
        log.exception("could not reconcile the firing alerts")
        return 0
    if resolved:
        log.info("resolved %d alert(s) no longer firing at observability", len(resolved))
    return len(resolved)
