"""Stop conditions: while faults are open, watch the user journey and the services left alone.

A `StopWatch` judges what the probes saw (pure logic, fed rounds); a `Watcher` feeds it from a
daemon thread and calls its owner back once when a condition trips. The owner (a scenario
run, the monkey) halts: it reverts what it injected and records why. The kill switch stays
the global stop; this is the per-run one.
"""

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos_server.scenarios.model import StopConditions
from chaos_server.scenarios.probe import ProbeResult, run_probe, service_health

log = logging.getLogger("chaos_server.stop_conditions")
UNHEALTHY_ROUNDS = 2  # two failed health checks in a row: one blip halts nothing


@dataclass(frozen=True)
class Trip:
    """The condition that tripped and what was seen."""

    condition: str
    detail: str


@dataclass(frozen=True)
class Round:
    """One look: the journey's probes and the watched services found unhealthy (and why)."""

    at: float  # monotonic seconds
    journey: tuple[ProbeResult, ...]
    unhealthy: dict[str, str] = field(default_factory=dict)


class StopWatch:
    """The verdict over the rounds fed in, by the rounds' own clock."""

    def __init__(self, conditions: StopConditions) -> None:
        self.conditions = conditions
        self._rounds: deque[Round] = deque()
        self._outage_since: float | None = None
        self._sick: dict[str, int] = {}

    def reset(self) -> None:
        """Forget what was seen (nothing of the owner's is open any more)."""
        self._rounds.clear()
        self._outage_since = None
        self._sick = {}

    def observe(self, seen: Round) -> Trip | None:
        """Add one round; the first condition it trips, if any."""
        self._rounds.append(seen)
        while self._rounds[0].at <= seen.at - self.conditions.window_s:
            self._rounds.popleft()
        self._sick = {name: self._sick.get(name, 0) + 1 for name in seen.unhealthy}
        if all(probe.ok for probe in seen.journey):
            self._outage_since = None
        elif self._outage_since is None:
            self._outage_since = seen.at
        return self._unhealthy(seen) or self._outage(seen.at) or self._errors() or self._slow()

    def _unhealthy(self, seen: Round) -> Trip | None:
        down = sorted(name for name, times in self._sick.items() if times >= UNHEALTHY_ROUNDS)
        if self.conditions.unhealthy_services is None or not down:
            return None
        return Trip("unhealthy_services", "; ".join(f"{n}: {seen.unhealthy[n]}" for n in down))

    def _outage(self, at: float) -> Trip | None:
        bound, since = self.conditions.max_outage_s, self._outage_since
        if bound is None or since is None or at - since < bound:
            return None
        failed = [probe for probe in self._rounds[-1].journey if not probe.ok]
        return Trip(
            "max_outage_s",
            f"the user journey has failed for {at - since:.1f}s (max {bound:g}s);"
            f" {failed[0].url}: {failed[0].detail}",
        )

    def _window(self) -> list[ProbeResult]:
        return [probe for seen in self._rounds for probe in seen.journey]

    def _errors(self) -> Trip | None:
        bound, probes = self.conditions.error_ratio, self._window()
        if bound is None or len(probes) < self.conditions.min_samples:
            return None
        failed = [probe for probe in probes if not probe.ok]
        ratio = len(failed) / len(probes)
        if ratio <= bound:
            return None
        return Trip(
            "error_ratio",
            f"{len(failed)}/{len(probes)} journey probes failed in the last"
            f" {self.conditions.window_s:g}s ({ratio:.2f} > {bound:g});"
            f" last: {failed[-1].url}: {failed[-1].detail}",
        )

    def _slow(self) -> Trip | None:
        bound, stat = self.conditions.latency_ms, self.conditions.latency_stat
        answered = sorted(p.latency_ms for p in self._window() if p.status is not None)
        if bound is None or len(answered) < self.conditions.min_samples:
            return None
        value = answered[-1] if stat == "max" else answered[math.ceil(0.95 * len(answered)) - 1]
        if value <= bound:
            return None
        return Trip(
            "latency_ms",
            f"{stat} {value:.0f} ms over {bound:g} ms in the last"
            f" {self.conditions.window_s:g}s ({len(answered)} answers)",
        )


@dataclass(frozen=True)
class Preflight:
    """The first look before anything is injected: what refuses the run, what to watch."""

    problems: list[tuple[str, str]]  # (the condition's field, why it cannot be evaluated)
    watched: tuple[str, ...]  # the services whose health is watched


def preflight(conditions: StopConditions, service_urls: dict[str, str]) -> Preflight:
    """Evaluate every condition once; a probe that gets no answer refuses the run."""
    problems: list[tuple[str, str]] = []
    for index, probe in enumerate(conditions.journey):
        where = f"stop_conditions.journey[{index}]"
        try:
            seen = run_probe(service_urls, probe)
        except ValueError as exc:  # an unknown or non-loopback service
            problems.append((where, str(exc)))
            continue
        if seen.status is None:
            problems.append((where, f"{seen.url} unreachable: {seen.detail}"))
    wanted = conditions.unhealthy_services
    if wanted == "any_other":  # those up now; a service that was down is not the run's doing
        names = [name for name in service_urls if service_health(service_urls, name) is None]
        return Preflight(problems, tuple(names))
    for name in wanted or []:
        if (problem := service_health(service_urls, name)) is not None:
            problems.append(("stop_conditions.unhealthy_services", f"{name}: {problem}"))
    return Preflight(problems, tuple(wanted or []))


def prober(
    conditions: StopConditions, service_urls: dict[str, str], watched: tuple[str, ...]
) -> Callable[[set[str]], Round]:
    """A look at the journey and at the watched services that are not among `targets`."""

    def look(targets: set[str]) -> Round:
        at = time.monotonic()
        journey = tuple(run_probe(service_urls, probe) for probe in conditions.journey)
        unhealthy = {
            name: problem
            for name in watched
            if name not in targets and (problem := service_health(service_urls, name))
        }
        return Round(at, journey, unhealthy)

    return look


class Watcher:
    """Looks every `interval_s` in a daemon thread while its owner has faults open.

    `targets()` gives the owner's fault targets, or None when nothing of it is open (then
    the watch resets, or ends with `ends_when_idle`). `on_trip` is called at most once.
    """

    def __init__(
        self,
        conditions: StopConditions,
        *,
        look: Callable[[set[str]], Round],
        targets: Callable[[], set[str] | None],
        on_trip: Callable[[Trip], None],
        ends_when_idle: bool = False,
    ) -> None:
        self.watch = StopWatch(conditions)
        self.tripped: Trip | None = None
        self._look, self._targets, self._on_trip = look, targets, on_trip
        self._ends_when_idle = ends_when_idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stop-conditions", daemon=True)

    def start(self) -> "Watcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more looks; waits for a halt under way to finish (unless called from it)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        interval = self.watch.conditions.interval_s
        while not self._stop.wait(interval):
            try:
                targets = self._targets()
                if targets is None:
                    if self._ends_when_idle:
                        return
                    self.watch.reset()
                    continue
                trip = self.watch.observe(self._look(targets))
            except Exception:  # a look that fails is logged; the next one may see again
                log.exception("stop conditions: a look failed")
                continue
            if trip is not None and not self._stop.is_set():
                self.tripped = trip
                log.info("stop condition %s tripped: %s", trip.condition, trip.detail)
                try:
                    self._on_trip(trip)
                except Exception:
                    log.exception("stop conditions: halting after %s failed", trip.condition)
                return
