"""Observability on a live lab for the detection tests: the alerts meant for each fault, an
in-process observability app ticking on its own thread, and the watch that says whether the
lab is steady."""

import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from breakfix.background import BackgroundLab
from lab.catalogue.registry import get_catalogue
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from observability.config import Settings as ObsSettings
from observability.main import create_app as create_obs_app
from observability.pipeline import Pipeline
from tests.support.asgi import TestClient

STEADY_WITHIN_S = 150.0
STEADY_CHECKS = 3  # consecutive 1 s checks with nothing firing and every victim healthy
VICTIMS = ("target", "target-db", "db-proxy", "upstream-primary", "upstream-fallback")

# The alerts meant for each fault: (alertname, service), the `alerts` the catalogue
# (lab/catalogue/catalogue.yaml) declares for it: the symptom the fault really produces on the
# service that shows it, each rule listing the fault in observability/rules.yaml. Any one of
# them firing is a detection.
MEANT: dict[str, set[tuple[str, str]]] = {
    fault.id: fault.meant for fault in get_catalogue().faults if fault.fault_class != "control"
}


@dataclass
class Watch:
    """Observability on the live lab (its pipeline ticking at 1 Hz) and what to check with."""

    client: TestClient
    pipeline: Pipeline
    runtime: LocalRuntime
    target_url: str

    def records(self) -> list[dict[str, Any]]:
        """Firing alerts, then the recently resolved ones (the detector's own view)."""
        return self.pipeline.detector.records()

    def firing(self) -> set[tuple[str, str]]:
        return {(r["alertname"], r["service"]) for r in self.records() if r["status"] == "firing"}

    def synthetic_ok(self) -> bool:
        """The last two synthetic transactions succeeded."""
        points = self.pipeline.ring.series(
            "synthetic_success", service="target", since=time.time() - 10
        )
        return len(points) >= 2 and all(p.value == 1.0 for p in points[-2:])

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.target_url}/ready", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def unsteady(self) -> list[str]:
        """Why the lab is not steady now (empty when it is)."""
        why = [f"firing {name} on {svc}" for name, svc in sorted(self.firing())]
        for svc in VICTIMS:
            health = self.runtime.status(svc).health
            if health != "healthy":
                why.append(f"{svc} {health}")
        if not self.ready():
            why.append("target /ready not 200")
        if not self.synthetic_ok():
            why.append("synthetic transaction not passing")
        return why

    def wait_steady(self, within_s: float, what: str) -> None:
        """Until the lab is steady for STEADY_CHECKS checks in a row, one a second."""
        deadline, in_a_row, why = time.monotonic() + within_s, 0, ["not checked"]
        while in_a_row < STEADY_CHECKS:
            why = self.unsteady()
            in_a_row = 0 if why else in_a_row + 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not steady after {within_s:.0f}s: {why}")
            time.sleep(1.0)


def observability_app(lab: BackgroundLab, lab_settings: LabSettings, **overrides: Any) -> FastAPI:
    """Observability for the lab with the default rules; it ticks on its own thread."""
    ops_url = read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"]
    settings = ObsSettings(
        _env_file=None,
        ops_db_url=ops_url,
        downsample_s=5,
        **overrides,
    )
    runtime = LocalRuntime.from_state_dir(StatePaths.at(lab.state_dir))
    app = create_obs_app(settings, lab=lab_settings, runtime=runtime, background=True)
    app.state.test_runtime = runtime
    return app
