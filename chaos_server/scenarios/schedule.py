"""Scheduled scenarios inside the chaos server: APScheduler runs each on its cron schedule."""

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from chaos_server.parts import ChaosParts
from chaos_server.scenarios.api import InProcessChaosApi
from chaos_server.scenarios.cron import parse_cron
from chaos_server.scenarios.model import Scenario, load_dir
from chaos_server.scenarios.probe import lab_urls
from chaos_server.scenarios.runner import ScenarioResult, run_scenario
from chaos_server.stop_conditions import Trip
from chaos_server.store.events import record_event

log = logging.getLogger("chaos_server.scenarios")


class ScenarioBusy(Exception):
    """The scenario is already running (a scheduled run and a manual one never overlap)."""


@dataclass
class ScenarioBook:
    """The scenarios this server knows, their last results, and the scheduler if enabled."""

    parts: ChaosParts
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduler: BackgroundScheduler | None = None
    _running: dict[str, threading.Lock] = field(default_factory=dict)

    def load(self) -> None:
        directory = self.parts.settings.scenario_dir
        if directory is None:
            return
        found, self.errors = load_dir(directory)
        self.scenarios = {s.name: s for s in found}
        self._running = {name: threading.Lock() for name in self.scenarios}
        for error in self.errors:
            log.error("scenario not loaded: %s", error)

    def start(self) -> None:
        """Load the scenario dir; with the scheduler enabled, schedule those with a cron."""
        self.load()
        if not self.parts.settings.scheduler_enabled:
            return
        self.scheduler = BackgroundScheduler(timezone="UTC")
        for scenario in self.scenarios.values():
            if scenario.schedule is None:
                continue
            self.scheduler.add_job(
                self._scheduled,
                trigger=parse_cron(scenario.schedule),
                args=[scenario.name],
                id=scenario.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=30,
            )
        self.scheduler.start()
        log.info("scenario scheduler started: %d job(s)", len(self.scheduler.get_jobs()))

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None

    def next_run(self, name: str) -> datetime | None:
        if self.scheduler is None:
            return None
        job = self.scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def _scheduled(self, name: str) -> None:
        try:
            self.run(name, trigger="schedule")
        except ScenarioBusy:
            log.info("scheduled run of %s skipped: still running", name)

    def run(self, name: str, *, trigger: str) -> ScenarioResult:
        """Run a loaded scenario now, in this thread; ScenarioBusy if it is running already."""
        scenario, lock = self.scenarios[name], self._running[name]
        if not lock.acquire(blocking=False):
            raise ScenarioBusy(name)
        try:
            urls = lab_urls(self.parts.ctx.lab)
            result = run_scenario(
                scenario, InProcessChaosApi(self.parts), urls, on_halt=self._halted
            )
        finally:
            lock.release()
        self.last[name] = {"trigger": trigger, "at": datetime.now().astimezone().isoformat()}
        self.last[name].update(status=result.status, faults=result.faults, stop=result.stop)
        why = f": {result.stop['condition']}" if result.stop else ""
        self._record(
            result,
            "scenario",
            f"scenario {name} ({trigger}): {result.status}{why}",
            trigger=trigger,
            status=result.status,
            stop=result.stop,
        )
        return result

    def _halted(self, result: ScenarioResult, trip: Trip) -> None:
        """Record the halt when it happens (the run itself still checks the recovery)."""
        message = f"scenario {result.scenario} halted by {trip.condition}: {trip.detail}"
        self._record(result, "stop_condition", message, **(result.stop or {}))

    def _record(self, result: ScenarioResult, kind: str, message: str, **data: Any) -> None:
        record_event(
            self.parts.store,
            kind=kind,
            message=message,
            correlation_id=result.correlation_id,
            data={"scenario": result.scenario, **data, "faults": list(result.faults)},
        )
