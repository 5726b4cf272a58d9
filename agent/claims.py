"""Which faults other open incidents are fixing: a fault one incident has a plan for is not
another's to act on, and the alerts it explains are that fix's to clear."""

from agent.model import IncidentState
from agent.store import IncidentStore

S = IncidentState
FIXING = frozenset({S.planned, S.awaiting_approval, S.acting, S.verifying})


def claimed_elsewhere(store: IncidentStore, incident_id: str) -> dict[str, str]:
    """Fault -> the other open incident whose current plan fixes it."""
    claimed: dict[str, str] = {}
    for other in store.open_incidents():
        if other.id != incident_id and other.plans and other.state in FIXING:
            claimed.setdefault(other.plans[-1]["hypothesis"]["fault"], other.id)
    return claimed
