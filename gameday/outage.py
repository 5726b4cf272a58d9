"""User outage from the probe's journeys: the arithmetic, on recorded samples alone.

A case's outage runs from the first failed (or too slow) journey that started after the
injection to the start of the first clean window: consecutive good journeys spanning at
least `clean_window_s`. Users hurt again later in the case (a second fault, a fix that did
not hold) open another episode: the outage is the sum of the episodes, ending at the start
of the last clean window. With no clean window after the last failure before the case
closed, the outage is censored: it lasted at least until the case's end.
"""

import math
from dataclasses import dataclass

from gameday.report.schema import Outage


@dataclass(frozen=True)
class Journey:
    """One user journey of the probe."""

    started_at: float  # epoch seconds
    latency_s: float
    ok: bool  # every step answered as expected, in time
    failed_step: str | None = None  # the first step that failed, or "slow"


def p99_ms(latencies_s: list[float]) -> float | None:
    """The 99th percentile by nearest rank, in milliseconds (None for no sample)."""
    if not latencies_s:
        return None
    ordered = sorted(latencies_s)
    rank = max(1, math.ceil(0.99 * len(ordered)))
    return round(ordered[rank - 1] * 1000.0, 1)


def _clean_from(journeys: list[Journey], first: int, clean_window_s: float) -> bool:
    """Whether the good journeys from index `first` on span `clean_window_s` unbroken."""
    start = journeys[first].started_at
    for later in journeys[first:]:
        if not later.ok:
            return False
        if later.started_at - start >= clean_window_s:
            return True
    return False


def measure(
    journeys: list[Journey], *, since: float, until: float, clean_window_s: float
) -> Outage:
    """The outage users saw between `since` (the injection) and `until` (the case's end).

    Times in the result are seconds after `since`."""
    seen = sorted((j for j in journeys if since <= j.started_at <= until), key=_start)
    failed = [j for j in seen if not j.ok]
    outage = Outage(
        journeys=len(seen),
        failed_journeys=len(failed),
        p99_ms=p99_ms([j.latency_s for j in seen]),
    )
    if not failed:
        return outage
    outage.start_s = round(failed[0].started_at - since, 3)
    total, i = 0.0, seen.index(failed[0])
    while i < len(seen):  # one episode: a failure to the start of the clean window after it
        began = seen[i].started_at
        clean = next(
            (
                k
                for k in range(i + 1, len(seen))
                if seen[k].ok and _clean_from(seen, k, clean_window_s)
            ),
            None,
        )
        outage.episodes += 1
        if clean is None:
            last = seen[-1].started_at + seen[-1].latency_s
            outage.recovered, outage.censored = False, True
            outage.outage_s = round(total + max(last, until) - began, 3)
            return outage
        total += seen[clean].started_at - began
        outage.end_s = round(seen[clean].started_at - since, 3)
        i = next((k for k in range(clean, len(seen)) if not seen[k].ok), len(seen))
    outage.outage_s = round(total, 3)
    return outage


def _start(journey: Journey) -> float:
    return journey.started_at
