"""Injecting and reverting faults through the lab's own chaos server, as a chaos client.

Only tests hold the chaos key: the agent never does.
"""

import time
from dataclasses import dataclass
from typing import Any

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab

FAULT_TTL_S = 300.0  # never expires during a case: the test reverts


@dataclass
class Injected:
    """One fault in place: its ledger id and when it was asked for (epoch seconds)."""

    id: str
    fault: str
    requested_at: float
    inject_s: float


def inject(
    lab: GamedayLab,
    fault: str,
    *,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    ttl_s: float = FAULT_TTL_S,
) -> Injected:
    """POST /break/{fault}; raises with the chaos server's answer when refused."""
    body: dict[str, Any] = {"ttl_s": ttl_s, "params": params or {}}
    if target is not None:
        body["target"] = target
    requested = time.time()
    response = lab.chaos.post(f"/break/{fault}", json=body, timeout=180.0)
    took = time.time() - requested
    if response.status_code != 201:
        raise GamedayError(f"chaos refused {fault}: {response.status_code} {response.text}")
    return Injected(response.json()["id"], fault, requested, took)


def revert(lab: GamedayLab, injected: Injected) -> dict[str, Any]:
    """DELETE /faults/{id}: the fault's own revert (a no-op where the agent fixed it)."""
    response = lab.chaos.delete(f"/faults/{injected.id}", timeout=180.0)
    if response.status_code != 200:
        raise GamedayError(f"revert of {injected.fault}: {response.status_code} {response.text}")
    row: dict[str, Any] = response.json()
    return row
