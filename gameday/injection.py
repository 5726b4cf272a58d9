"""Putting one fault of a case in place and taking it away again: through the chaos server
(with a TTL longer than the case, so the fault cannot go away by itself and mask the
responder) or by hand, outside the chaos server."""

import time
from dataclasses import dataclass, field

from gameday.chaos_faults import Injected, inject, revert
from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.out_of_band import MAKERS, OutOfBand
from gameday.plan import FaultStep
from gameday.report.schema import FaultRecord


@dataclass
class Placed:
    """A fault in place: its record, and what takes it away."""

    record: FaultRecord
    chaos: Injected | None = None
    maker: OutOfBand | None = None
    removed: bool = False
    notes: list[str] = field(default_factory=list)


def place(lab: GamedayLab, step: FaultStep, *, ttl_s: float) -> Placed:
    """Inject (or make by hand) the step's fault; GamedayError when refused."""
    if step.by_hand is not None:
        maker = MAKERS[step.by_hand]()
        at = time.time()
        maker.make(lab)
        record = FaultRecord(fault=maker.fault, how="by-hand", maker=step.by_hand, injected_at=at)
        return Placed(record=record, maker=maker)
    assert step.fault is not None
    injected = inject(lab, step.fault, target=step.target, params=step.params, ttl_s=ttl_s)
    record = FaultRecord(
        fault=step.fault,
        how="chaos",
        ledger_id=injected.id,
        injected_at=injected.requested_at,
        ttl_s=ttl_s,
    )
    return Placed(record=record, chaos=injected)


def remove(lab: GamedayLab, placed: Placed) -> None:
    """Revert a chaos fault or clean up one made by hand (once); what was still left of it
    goes into the record's `left_behind` only for faults made by hand (a chaos revert keeps
    what someone fixed: the recovery oracle says what was left)."""
    if placed.removed:
        return
    placed.removed = True
    try:
        if placed.chaos is not None:
            row = revert(lab, placed.chaos)
            if row.get("state") != "reverted":  # the ledger must hold nothing of the day
                placed.record.left_behind.append(f"chaos ledger says {row.get('state')}")
        elif placed.maker is not None:
            placed.record.left_behind += placed.maker.clean(lab)
    except GamedayError as exc:
        placed.notes.append(str(exc))
    finally:
        placed.record.reverted_at = time.time()
