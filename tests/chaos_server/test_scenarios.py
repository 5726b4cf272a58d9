"""Scenarios, the scheduler and the chaos monkey on a real lab, through the real injector."""

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from breakfix.background import BackgroundLab
from chaos_server.models import ChaosEvent
from chaos_server.monkey import Monkey
from chaos_server.scenarios.api import InProcessChaosApi
from chaos_server.scenarios.model import load_scenario, parse_scenario
from chaos_server.scenarios.runner import run_scenario
from lab.paths import SHIPPED_SCENARIOS
from lab.services import endpoints
from tests.support.asgi import TestClient
from tests.support.chaos_lab import ChaosFactory, target_url, wait_for
from tests.support.lab_settings import lab_settings
from tests.support.ports import free_port

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


def _events(ops_engine: Engine, correlation_id: str) -> list[ChaosEvent]:
    with Session(ops_engine) as session:
        query = select(ChaosEvent).where(ChaosEvent.correlation_id == correlation_id)
        return list(session.scalars(query))


def _serves(lab: BackgroundLab, times: int = 5) -> bool:
    return all(
        httpx.get(target_url(lab, "/products"), timeout=5).status_code == 200 for _ in range(times)
    )


def test_a_tripped_stop_condition_halts_the_run_reverts_its_fault_and_says_why(
    make_chaos: ChaosFactory, lab: BackgroundLab, ops_engine: Engine
) -> None:
    # The shipped example: an error storm (9 reads in 10 fail) planned for four minutes.
    chaos = make_chaos(scenario_dir=SHIPPED_SCENARIOS)
    started = time.monotonic()
    response = chaos.post("/scenarios/api-error-storm-stop/run")
    took = time.monotonic() - started
    body = response.json()
    assert response.status_code == 200 and body["status"] == "halted", body
    assert took < 90  # halted, not waited out (the wait step alone is 240 s)
    stop = body["stop"]
    assert stop["condition"] == "error_ratio" and "journey probes failed" in stop["detail"]
    assert stop["after_s"] < 30
    assert [step["kind"] for step in body["steps"]] == ["inject", "wait", "halt"]
    assert "cut short" in body["steps"][1]["detail"]
    assert "stop condition error_ratio" in body["steps"][2]["detail"]
    assert [(r["kind"], r["ok"]) for r in body["rollback"]] == [("halt", True)]
    (fault,) = _faults(chaos, body["faults"])
    assert fault["state"] == "reverted" and fault["revert_reason"] == "stop_condition"
    assert all(r["ok"] for r in body["after"]) and _serves(lab)

    (listed,) = [
        s
        for s in chaos.get("/scenarios").json()["scenarios"]
        if s["name"] == "api-error-storm-stop"
    ]
    assert listed["last"]["status"] == "halted"
    assert listed["last"]["stop"]["condition"] == "error_ratio"
    assert listed["stop_conditions"]["error_ratio"] == 0.5
    events = {e.kind: e for e in _events(ops_engine, body["correlation_id"])}
    assert {"inject", "stop_condition", "revert", "scenario"} <= set(events)
    assert events["stop_condition"].data["condition"] == "error_ratio"
    assert events["revert"].data["reason"] == "stop_condition"
    assert events["revert"].data["stop_condition"] == "error_ratio"
    assert events["scenario"].data["status"] == "halted"


def _guarded(**conditions: Any) -> dict[str, Any]:
    return {
        "name": "guarded",
        "stop_conditions": {"error_ratio": 0.5, **conditions},
        "steps": [
            {"inject": {"fault": "api-error-storm", "target": "target", "ttl_s": 60}},
            {"wait": 60},
        ],
    }


def test_a_stop_condition_that_cannot_be_evaluated_refuses_the_run_before_any_injection(
    make_chaos: ChaosFactory, lab: BackgroundLab, tmp_path: Path
) -> None:
    # Through the API below: a watched service that cannot be checked refuses the run, 409.
    _write(tmp_path, "guarded", _guarded(unhealthy_services=["ghost"]))
    chaos = make_chaos(scenario_dir=tmp_path)
    before = {r["id"] for r in chaos.get("/faults", params={"limit": 1000}).json()}
    # The journey's service answers on a closed loopback port: no probe can be evaluated.
    urls = {**_urls(lab), "target": f"http://127.0.0.1:{free_port()}"}
    result = run_scenario(parse_scenario(_guarded()), _api(chaos), urls)
    assert result.status == "refused" and result.faults == [] and result.steps == []
    assert result.stop is not None and result.stop["condition"] == "stop_conditions.journey[0]"
    assert "unreachable" in result.stop["detail"]
    ((kind, ok, detail),) = [(r.kind, r.ok, r.detail) for r in result.before]
    assert (kind, ok) == ("stop_condition", False)
    assert detail.startswith("stop_conditions.journey[0]: http://127.0.0.1:")

    response = chaos.post("/scenarios/guarded/run")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "stop_condition_unavailable"
    assert "stop_conditions.unhealthy_services: ghost" in response.json()["detail"]
    (listed,) = chaos.get("/scenarios").json()["scenarios"]
    assert listed["last"]["status"] == "refused"
    after = {r["id"] for r in chaos.get("/faults", params={"limit": 1000}).json()}
    assert after == before and _serves(lab)


def _monkey_settings(**values: Any) -> dict[str, Any]:
    return {
        "monkey_faults": ["api-error-storm"],
        "monkey_targets": ["target"],
        "monkey_hours": "00:00-00:00",
        "monkey_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "monkey_min_gap_s": 0,
        "monkey_ttl_s": 60,
        **values,
    }


def test_monkey_stop_conditions_revert_its_fault_early_and_record_why(
    make_chaos: ChaosFactory, lab: BackgroundLab, ops_engine: Engine
) -> None:
    chaos = make_chaos(
        **_monkey_settings(
            monkey_stop_conditions={"error_ratio": 0.2, "window_s": 5, "interval_s": 0.5}
        )
    )
    monkey = Monkey.for_parts(chaos.app.state.parts)  # type: ignore[attr-defined]
    assert monkey.tick(datetime.now().astimezone()) == "injected:api-error-storm:target"
    (row,) = [
        r
        for r in chaos.get("/faults", params={"fault_id": "api-error-storm"}).json()
        if r["correlation_id"].startswith("monkey-") and r["state"] == "active"
    ]

    def reverted() -> bool:
        return bool(chaos.get(f"/faults/{row['id']}").json()["state"] == "reverted")

    wait_for(reverted, timeout=30, what="the monkey's fault halted by its stop conditions")
    assert chaos.get(f"/faults/{row['id']}").json()["revert_reason"] == "stop_condition"
    wait_for(lambda: not any(w.running for w in monkey.watchers), timeout=10, what="watch end")
    kinds = {e.kind: e for e in _events(ops_engine, row["correlation_id"])}
    assert kinds["stop_condition"].data["stop_condition"] == "error_ratio"
    assert _serves(lab)


def test_monkey_does_not_inject_when_its_stop_conditions_cannot_be_evaluated(
    make_chaos: ChaosFactory,
) -> None:
    chaos = make_chaos(**_monkey_settings(monkey_stop_conditions={"unhealthy_services": ["ghost"]}))
    monkey = Monkey.for_parts(chaos.app.state.parts)  # type: ignore[attr-defined]
    assert monkey.tick(datetime.now().astimezone()) == "refused:stop_condition_unavailable"
    assert monkey.watchers == [] and monkey.last_injection is None
