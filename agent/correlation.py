"""Which open incident a new alert belongs to: one outage, one incident, but never two
independent outages forced into one, nor a new outage held behind an approval.

- An incident still forming its picture (detected or diagnosing, nothing planned yet) takes
  every new alert: one fault sets off several alerts within seconds, and faults injected
  together are diagnosed together, one fix after another until every symptom is clear
  (agent/pipeline.py re-diagnoses what a verified fix left firing).
- An incident being fixed (planned, acting, verifying) takes alerts about a service it
  already has alerts on or that its fix verifies (the plan's health services: the target
  always): the outage's slower alerts, its own fix's effects, or a second fault there,
  which its honest verification will not let pass unnoticed. An alert about another
  service is a new outage.
- An incident waiting for a human's approval takes only a new episode of one of its own
  alerts on its own services; anything else is handled at once by an incident of its own.
"""

from dataclasses import dataclass

from agent.model import IncidentState

S = IncidentState
_FORMING = frozenset({S.detected, S.diagnosing})
_FIXING = frozenset({S.detected, S.diagnosing, S.planned, S.acting, S.verifying})


@dataclass(frozen=True)
class OpenOutage:
    """What correlation needs of an open incident."""

    state: IncidentState
    planned: bool  # a plan was made (a fix tried or under judgement)
    alertnames: frozenset[str]
    services: frozenset[str]  # of its alerts, and the ones its current plan verifies


def affinity(outage: OpenOutage, *, alertname: str, service: str | None) -> int:
    """How strongly a new firing alert belongs to this open incident: 2, a new episode of
    one of its own alerts; 1, the same outage by the rules above; 0, not at all."""
    same_service = service is None or service in outage.services or not outage.services
    if alertname in outage.alertnames and same_service:
        return 2
    if outage.state in _FORMING and not outage.planned:
        return 1
    return int(outage.state in _FIXING and same_service)


def best_open(
    outages: list[tuple[str, OpenOutage]], *, alertname: str, service: str | None
) -> str | None:
    """The open incident a new firing alert joins: the strongest affinity, the first listed
    among equals (the caller lists the groupKey's incident first, then newest first)."""
    best, best_rank = None, 0
    for incident_id, outage in outages:
        rank = affinity(outage, alertname=alertname, service=service)
        if rank > best_rank:
            best, best_rank = incident_id, rank
    return best
