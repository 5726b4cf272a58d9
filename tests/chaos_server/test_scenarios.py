"""Scenarios, the scheduler and the chaos monkey on a real lab, through the real injector."""

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos_server.monkey import Monkey
from chaos_server.scenarios.api import InProcessChaosApi
from chaos_server.scenarios.model import load_scenario, parse_scenario
from chaos_server.scenarios.runner import run_scenario
from lab.background import BackgroundLab
from lab.paths import SHIPPED_SCENARIOS
from lab.services import endpoints
from tests.action_server.conftest import lab_settings
from tests.chaos_server.conftest import ChaosFactory, target_url, wait_for
from tests.target_server.helpers import TestClient

pytestmark = pytest.mark.slow


def _urls(lab: BackgroundLab) -> dict[str, str]:
    return {name: end.url for name, end in endpoints(lab_settings(lab)).items()}


def _api(chaos: TestClient) -> InProcessChaosApi:
    return InProcessChaosApi(chaos.app.state.parts)  # type: ignore[attr-defined]


def _faults(chaos: TestClient, ids: list[str]) -> list[dict[str, Any]]:
    return [chaos.get(f"/faults/{fault}").json() for fault in ids]


def test_shipped_api_hang_scenario_passes_and_leaves_nothing_open(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    scenario = load_scenario(SHIPPED_SCENARIOS / "api-hang.yaml")
    result = run_scenario(scenario, _api(chaos), _urls(lab))
    assert result.status == "passed", result.to_dict()
    kinds = [step.kind for step in result.steps]
    assert kinds == ["inject", "check", "wait", "revert", "check"]
    assert "deviated" in result.steps[1].detail  # the symptom was seen, not assumed
    (fault,) = _faults(chaos, result.faults)
    assert fault["state"] == "reverted" and fault["correlation_id"] == result.correlation_id
    assert result.rollback == []  # reverted by its own step, nothing left for the rollback
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200


def test_a_failed_check_stops_the_run_and_rolls_back_what_it_injected(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    scenario = parse_scenario(
        {
            "name": "wrong-expectation",
            "steady_state": [{"service": "target", "path": "/ready"}],
            "steps": [
                {"inject": {"fault": "api-hang", "target": "target", "ttl_s": 120}},
                {"check": {"path": "/ready", "expect": "steady", "timeout_s": 1}},
                {"wait": 60},  # never reached
            ],
        }
    )
    started = time.monotonic()
    result = run_scenario(scenario, _api(chaos), _urls(lab))
    assert result.status == "failed" and len(result.steps) == 2
    assert time.monotonic() - started < 50
    assert [r.ok for r in result.rollback] == [True]
    (fault,) = _faults(chaos, result.faults)
    assert fault["state"] == "reverted" and fault["revert_reason"] == "scenario"
    assert all(r.ok for r in result.after)


def test_no_fault_is_injected_when_the_steady_state_does_not_hold(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    scenario = parse_scenario(
        {
            "name": "not-steady",
            "steady_state": [{"service": "target", "path": "/no-such-page"}],
            "steps": [{"inject": {"fault": "noop"}}],
        }
    )
    result = run_scenario(scenario, _api(chaos), _urls(lab))
    assert result.status == "aborted" and result.faults == [] and result.steps == []
    assert "status 404, expected 200" in result.before[0].detail


def test_scenario_blast_radius_and_server_refusals_fail_the_step(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    scenario = parse_scenario(
        {
            "name": "too-many",
            "blast_radius": {"max_concurrent": 1},
            "steps": [
                {"inject": {"fault": "noop", "target": "target"}},
                {"inject": {"fault": "noop", "target": "target-db"}},
            ],
        }
    )
    result = run_scenario(scenario, _api(chaos), _urls(lab))
    assert result.status == "failed" and "max_concurrent 1" in result.steps[1].detail
    assert len(result.faults) == 1 and _faults(chaos, result.faults)[0]["state"] == "reverted"

    refused = parse_scenario(
        {"name": "refused", "steps": [{"inject": {"fault": "noop", "target": "ops-db"}}]}
    )
    result = run_scenario(refused, _api(chaos), _urls(lab))
    assert result.status == "failed" and "target_not_allowed" in result.steps[0].detail


def _write(directory: Path, name: str, document: dict[str, Any]) -> None:
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))


def test_scheduler_runs_a_cron_scenario_and_the_api_lists_and_runs_it(
    make_chaos: ChaosFactory, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        "tick",
        {
            "name": "tick",
            "schedule": "*/2 * * * * *",
            "steps": [{"inject": {"fault": "noop", "ttl_s": 30, "as": "n"}}, {"revert": "n"}],
        },
    )
    _write(tmp_path, "manual", {"name": "manual", "steps": [{"inject": {"fault": "noop"}}]})
    (tmp_path / "broken.yaml").write_text("name: broken\n")
    chaos = make_chaos(scenario_dir=tmp_path, scheduler_enabled=True)

    def ran() -> bool:
        listed = {s["name"]: s for s in chaos.get("/scenarios").json()["scenarios"]}
        return listed["tick"]["last"] is not None

    wait_for(ran, timeout=15, what="a scheduled run")
    body = chaos.get("/scenarios").json()
    tick = next(s for s in body["scenarios"] if s["name"] == "tick")
    assert body["scheduler_enabled"] and tick["last"]["status"] == "passed"
    assert tick["last"]["trigger"] == "schedule" and tick["next_run"] is not None
    assert any("broken.yaml" in e for e in body["errors"])
    (fault,) = _faults(chaos, tick["last"]["faults"])
    assert fault["fault_id"] == "noop" and fault["state"] == "reverted"

    manual = chaos.post("/scenarios/manual/run")
    assert manual.status_code == 200 and manual.json()["status"] == "passed"
    assert chaos.post("/scenarios/ghost/run").json()["code"] == "not_found"


def test_scheduler_is_off_by_default(make_chaos: ChaosFactory, tmp_path: Path) -> None:
    _write(
        tmp_path,
        "tick",
        {"name": "tick", "schedule": "* * * * * *", "steps": [{"inject": {"fault": "noop"}}]},
    )
    chaos = make_chaos(scenario_dir=tmp_path)
    time.sleep(2.5)
    (tick,) = chaos.get("/scenarios").json()["scenarios"]
    assert tick["next_run"] is None and tick["last"] is None
    assert chaos.get("/faults", params={"fault_id": "noop", "state": "active"}).json() == []


def test_monkey_injects_on_opted_in_targets_and_respects_the_kill_switch(
    make_chaos: ChaosFactory,
) -> None:
    chaos = make_chaos(
        monkey_enabled=True,
        monkey_faults=["noop"],
        monkey_targets=["target-db"],
        monkey_hours="00:00-00:00",
        monkey_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        monkey_min_interval_s=0.2,
        monkey_max_interval_s=0.4,
        monkey_min_gap_s=0,
        monkey_ttl_s=5,
        max_per_target=1,
    )

    def monkeyed() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = chaos.get("/faults", params={"fault_id": "noop"}).json()
        return [r for r in rows if r["correlation_id"].startswith("monkey-")]

    wait_for(lambda: len(monkeyed()) >= 1, timeout=15, what="a monkey injection")
    assert {r["target"] for r in monkeyed()} == {"target-db"}
    # The per-target limit holds for the monkey too: never two open at once.
    assert len([r for r in monkeyed() if r["state"] == "active"]) <= 1

    assert chaos.post("/kill").status_code == 200
    parts = chaos.app.state.parts  # type: ignore[attr-defined]
    monkey = Monkey.for_parts(parts)
    assert monkey.tick(datetime.now().astimezone()) == "refused:kill_switch_engaged"
    count = len(monkeyed())
    time.sleep(1.5)
    assert len(monkeyed()) == count  # latched: the running monkey gets nothing in either
