"""The chaos monkey: random faults on opted-in targets, only inside its hours, never in a rush.

Off by default. Every injection goes through the same injector as `/break`, so the blast
radius, the kill switch and the concurrency limits hold for the monkey as for anyone. Its
stop conditions are on by default: evaluated before each injection (one that cannot be
evaluated means no injection), then watched until the fault closes; a trip reverts it early.
"""

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from chaos_server.config import Settings
from chaos_server.faults.base import Fault
from chaos_server.models import OPEN_STATES, FaultRecord
from chaos_server.parts import ChaosParts
from chaos_server.reverter import revert_fault
from chaos_server.scenarios.api import ChaosRefused, InProcessChaosApi
from chaos_server.scenarios.probe import lab_urls
from chaos_server.stop_conditions import Preflight, Trip, Watcher, preflight, prober
from chaos_server.store.events import record_event

log = logging.getLogger("chaos_server.monkey")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def within_hours(settings: Settings, moment: datetime) -> bool:
    """Whether `moment` is in the monkey's days and hours (a window may cross midnight)."""
    local = moment.astimezone(ZoneInfo(settings.monkey_timezone))
    start_s, end_s = settings.monkey_hours.split("-")
    start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    now = local.time()
    if start == end:  # e.g. 00:00-00:00: all day
        inside, day = True, local.weekday()
    elif start < end:
        inside, day = start <= now < end, local.weekday()
    else:  # e.g. 22:00-06:00: after midnight it is still the window of the day before
        inside = now >= start or now < end
        day = local.weekday() if now >= start else (local.weekday() - 1) % 7
    return inside and DAYS[day] in settings.monkey_days


def candidates(settings: Settings, catalogue: dict[str, Fault]) -> list[tuple[str, str]]:
    """(fault, target) pairs the monkey may pick: opted-in targets on the allowlist only."""
    pairs = []
    for fault_id in settings.monkey_faults:
        fault = catalogue.get(fault_id)
        if fault is None:
            continue
        for target in settings.monkey_targets:
            if target in settings.allowlist and target in fault.targets:
                pairs.append((fault_id, target))
    return pairs


@dataclass
class Monkey:
    """One monkey per chaos server; `tick` decides and injects, `run` paces the ticks."""

    parts: ChaosParts
    rng: random.Random
    last_injection: datetime | None = None
    watchers: list[Watcher] = field(default_factory=list)

    @classmethod
    def for_parts(cls, parts: ChaosParts) -> "Monkey":
        return cls(parts=parts, rng=random.Random(parts.settings.monkey_seed))

    def next_delay(self) -> float:
        s = self.parts.settings
        return self.rng.uniform(s.monkey_min_interval_s, s.monkey_max_interval_s)

    def tick(self, moment: datetime) -> str:
        """One decision at `moment`: what the monkey did, in a word or two (for logs, tests)."""
        settings = self.parts.settings
        if not within_hours(settings, moment):
            return "outside_hours"
        if self.last_injection is not None:
            if (moment - self.last_injection).total_seconds() < settings.monkey_min_gap_s:
                return "too_soon"
        pairs = candidates(settings, self.parts.catalogue)
        if not pairs:
            return "no_candidates"
        fault, target = self.rng.choice(pairs)
        urls = lab_urls(self.parts.ctx.lab)
        checked = None
        if settings.monkey_stop_conditions_enabled:
            checked = preflight(settings.monkey_stop_conditions, urls)
            if checked.problems:
                where, problem = checked.problems[0]
                log.warning("monkey: not injecting, %s cannot be evaluated: %s", where, problem)
                return "refused:stop_condition_unavailable"
        api = InProcessChaosApi(self.parts)
        try:
            created = api.inject(
                fault,
                target=target,
                params={},
                ttl_s=settings.monkey_ttl_s,
                correlation_id=f"monkey-{uuid.uuid4().hex}",
            )
        except ChaosRefused as exc:
            log.info("monkey: %s on %s refused: %s", fault, target, exc.code)
            return f"refused:{exc.code}"
        self.last_injection = moment
        if checked is not None:
            self.watch(uuid.UUID(created["id"]), target, urls, checked)
        log.warning("monkey: injected %s on %s for %gs", fault, target, settings.monkey_ttl_s)
        return f"injected:{fault}:{target}"

    def watch(
        self, fault: uuid.UUID, target: str, urls: dict[str, str], checked: Preflight
    ) -> None:
        """Watch the stop conditions until `fault` closes; a trip reverts it and says why."""
        conditions = self.parts.settings.monkey_stop_conditions

        def targets() -> set[str] | None:
            with self.parts.store.session() as session:
                row = session.get(FaultRecord, fault)
                return {target} if row is not None and row.state in OPEN_STATES else None

        def halt(trip: Trip) -> None:
            data: dict[str, object] = {"stop_condition": trip.condition, "detail": trip.detail}
            row = revert_fault(parts=self.parts, fault=fault, reason="stop_condition", data=data)
            if row is None:
                return
            record_event(
                self.parts.store,
                kind="stop_condition",
                message=f"monkey: {row.fault_id} on {target} halted by {trip.condition}:"
                f" {trip.detail}",
                correlation_id=row.correlation_id,
                fault=fault,
                fault_id=row.fault_id,
                target=target,
                data={"monkey": True, **data, "revert": row.state},
            )

        self.watchers = [w for w in self.watchers if w.running]
        self.watchers.append(
            Watcher(
                conditions,
                look=prober(conditions, urls, checked.watched),
                targets=targets,
                on_trip=halt,
                ends_when_idle=True,
            ).start()
        )

    def stop_watching(self) -> None:
        """Stop every watcher (the server is shutting down; the watchdog keeps the TTLs)."""
        for watcher in self.watchers:
            watcher.stop()
        self.watchers = []

    async def run(self) -> None:
        """Tick at random intervals until cancelled; a failing tick never stops the monkey."""
        settings = self.parts.settings
        unknown = sorted(set(settings.monkey_faults) - set(self.parts.catalogue))
        if unknown:
            log.error("monkey: unknown faults ignored: %s", ", ".join(unknown))
        if not candidates(settings, self.parts.catalogue):
            log.warning("monkey enabled but no target opted in (CHAOS_MONKEY_TARGETS): idle")
        try:
            while True:
                await asyncio.sleep(self.next_delay())
                try:
                    outcome = await asyncio.to_thread(self.tick, datetime.now().astimezone())
                except Exception:
                    log.exception("monkey tick failed")
                    continue
                log.info("monkey tick: %s", outcome)
        finally:
            await asyncio.to_thread(self.stop_watching)
