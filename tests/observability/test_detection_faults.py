"""Each detector rule fires on the fault it is meant for: the whole catalogue on a live lab.

For every fault but noop: the lab steady first (nothing firing, every victim healthy, the
synthetic transaction passing), the fault injected through an in-process chaos app with its
default parameters, observability's pipeline ticking once a second on its own thread (as in
production) until an alert meant for the fault fires (and a few seconds more, so the other
rules it trips show as well), the fault reverted through the chaos API, then every alert
resolved and the lab steady again. Each case starts from a steady lab
and leaves one, so the cases are independent; a failed case still reverts its fault.

The time to detect of each fault (injection request to the alert's startsAt) and every
alert of its episode are printed as a table at the end of the module (`pytest -s`). The
lab's own observability service is off, so this app is the only detector.
"""

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import yaml

from breakfix.background import BackgroundLab
from chaos_server.config import Settings as ChaosSettings
from chaos_server.main import create_app as create_chaos_app
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from observability.config import PACKAGE
from tests.support.asgi import TestClient
from tests.support.detection import MEANT, STEADY_WITHIN_S, Watch
from tests.support.module_table import printed_after_module

# `make test-deep`: every fault is also injected by the agent's evaluations, whose judge checks
# that an alert meant for it fired (MEANT, tests/support/detection.py); this module
# isolates the detector alone and is kept out of `make test` for CI's time budget.
pytestmark = [pytest.mark.slow, pytest.mark.deep]

DETECT_WITHIN_S = 30.0  # the bound the "within a few seconds" is held to here
RECOVER_WITHIN_S = 150.0  # revert done -> every alert resolved and the lab steady
FAULT_TTL_S = 300.0  # long enough never to expire during a case: the test reverts
HOLD_S = 5.0  # the fault is kept this long after its detection: the other rules show too


@pytest.fixture(scope="module")
def chaos(lab: BackgroundLab, lab_settings: LabSettings) -> Iterator[TestClient]:
    """An in-process chaos app on the lab's ops-db (the lab's own chaos server keeps running:
    each injector has its own lease, and nothing is injected through the lab's)."""
    paths = StatePaths.at(lab.state_dir)
    key = secrets.token_urlsafe(24)
    key_file = paths.secret("chaos-detection.key")
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    settings = ChaosSettings(
        _env_file=None,
        ops_db_url=read_env(paths.action_env)["ACTION_OPS_DB_URL"],
        key_file=key_file,
        default_ttl_s=FAULT_TTL_S,
        max_ttl_s=600.0,
        ready_timeout_s=90.0,
    )
    runtime = LocalRuntime.from_state_dir(paths)
    app = create_chaos_app(settings, lab=lab_settings, runtime=runtime)
    with TestClient(app, headers={"X-Chaos-Key": key}) as client:
        yield client
        client.post("/kill")  # whatever a broken case left open is reverted
        client.post("/kill/release")
    runtime.close()


@dataclass
class Detection:
    """One fault's run: every alert that fired (seconds after the injection request, and
    whether it is meant for the fault), and how long the lab took to come back."""

    fault: str
    alerts: list[tuple[float, str, bool]] = field(default_factory=list)
    inject_s: float = 0.0
    revert_s: float = 0.0
    recover_s: float | None = None

    @property
    def first(self) -> tuple[float, str] | None:
        """The first alert meant for the fault: its time to detect and name."""
        meant = [(at, name) for at, name, ok in sorted(self.alerts) if ok]
        return meant[0] if meant else None

    def record(self, watch: Watch, since: float) -> None:
        """Take every alert whose episode started at or after `since`."""
        meant = MEANT[self.fault]
        self.alerts = sorted(
            (_epoch(r["startsAt"]) - since, _name(r), (r["alertname"], r["service"]) in meant)
            for r in _started_since(watch, since)
        )


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[dict[str, Detection]]:
    """Each fault's detection, printed as a table once the module is done."""
    yield from printed_after_module(request, render_table)


def render_table(runs: list[Detection]) -> str:
    """Fault, time to detect, the first alert meant for it, inject/revert/recovery times, then
    every alert of the episode with its own time ("!" marks one not meant for the fault)."""

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    head = f"{'fault':<20}{'ttd_s':>6}  {'first alert meant for it':<36}"
    head += f"{'inject_s':>9}{'revert_s':>9}{'recover_s':>10}  every alert (s after injection)"
    lines = [
        "time to detect: built-in detector at 1 Hz, default rules, default fault params;",
        "seconds from the injection request to the alert's startsAt",
        head,
    ]
    for r in runs:
        ttd, name = r.first or (None, "-")
        line = f"{r.fault:<20}{secs(ttd):>6}  {name:<36}"
        line += f"{r.inject_s:>9.1f}{r.revert_s:>9.1f}{secs(r.recover_s):>10}  "
        every = ", ".join(f"{'' if ok else '!'}{n} {at:.1f}" for at, n, ok in r.alerts)
        lines.append(line + (every or "-"))
    return "\n".join(lines)


def _name(record: dict[str, Any]) -> str:
    signature = record["labels"].get("signature")
    name = f"{record['alertname']}/{record['service']}"
    return f"{name}[{signature}]" if signature else name


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def _started_since(watch: Watch, since: float) -> list[dict[str, Any]]:
    """Alerts (firing or already resolved) whose episode started at or after `since`."""
    return [r for r in watch.records() if _epoch(r["startsAt"]) >= since]


def _until(check: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_every_mapped_alert_is_a_rule_meant_for_that_fault() -> None:
    """The mapping above agrees with rules.yaml: each alert names its fault there."""
    rules = yaml.safe_load((PACKAGE / "rules.yaml").read_text())["rules"]
    meant_for = {rule["name"]: set(rule.get("faults", [])) for rule in rules}
    for fault, alerts in MEANT.items():
        for name, _ in alerts:
            assert fault in meant_for[name], f"{name} does not list {fault} in rules.yaml"
    listed = {fault for faults in meant_for.values() for fault in faults}
    assert listed == set(MEANT), "every catalogue fault but noop has a rule, and only those"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("fault", list(MEANT))
def test_the_fault_is_detected_by_an_alert_meant_for_it_and_the_lab_recovers(
    fault: str, watch: Watch, chaos: TestClient, table: dict[str, Detection]
) -> None:
    run = table[fault] = Detection(fault)
    watch.wait_steady(STEADY_WITHIN_S, f"before {fault}")

    started = time.time()
    response = chaos.post(f"/break/{fault}", json={"ttl_s": FAULT_TTL_S})
    run.inject_s = time.time() - started
    assert response.status_code == 201, response.text
    fault_id = response.json()["id"]
    try:

        def detected() -> bool:
            run.record(watch, started)
            return run.first is not None

        _until(detected, DETECT_WITHIN_S + run.inject_s)
        fired = [name for _, name, _ in run.alerts]
        assert run.first, f"{fault}: no alert meant for it in {DETECT_WITHIN_S:.0f}s: {fired}"
        # Bounded from the moment the fault is in place (config-drift's restart takes a while).
        assert run.first[0] <= DETECT_WITHIN_S + run.inject_s, run.alerts
        time.sleep(HOLD_S)
    finally:
        reverting = time.time()
        reverted = chaos.delete(f"/faults/{fault_id}")
        run.revert_s = time.time() - reverting
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["state"] == "reverted", reverted.json()

    watch.wait_steady(RECOVER_WITHIN_S, f"after reverting {fault}")
    run.recover_s = time.time() - reverting - run.revert_s
    run.record(watch, started)
    assert not watch.firing(), f"{fault}: still firing after recovery: {watch.firing()}"
