"""The real stack on a real lab: Prometheus scrapes it, a rule fires when the target freezes,
Alertmanager delivers the webhook, and every Grafana panel's query returns data.

Everything runs on loopback and free ports: the lab (package fixture), the Debian
`prometheus` and `prometheus-alertmanager` binaries with temp data dirs, and the webhook
receiver, a plain HTTP server in this test. Observability does not run as a lab service
in test labs yet, so its /metrics is served here: observability.exposition over a
RingStore that the real lab collectors (`lab_collectors`) fill every second, on the port
the lab reserved for observability. The rules run with `for: 2s` and 1 s intervals (a
variant of the shipped rules.yml) so the test waits seconds, not minutes.
"""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from breakfix.background import BackgroundLab
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.ports import free_port
from lab.runtime.local import LocalRuntime
from observability.collectors.lab_collectors import lab_collectors
from observability.exposition import CONTENT_TYPE, render
from observability.model import Collector
from observability.stack.alerting import Grouping
from observability.stack.api import PrometheusAPI
from observability.stack.files import write_stack
from observability.stack.processes import (
    ALERTMANAGER_BINARIES,
    PROMETHEUS_BINARIES,
    StackProcess,
    alertmanager,
    prometheus,
)
from observability.stack.rules import load_rules, with_for
from observability.stack.scrape import Timing
from observability.store.ring import RingStore
from tests.support.loopback import LoopbackServer, Quiet
from tests.support.system_binaries import require_binary

pytestmark = pytest.mark.slow

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


class Webhooks:
    """The agent's stand-in: keeps every Alertmanager webhook body posted to /alerts."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/alerts":
                    received.bodies.append(json.loads(body))
                self.send_response(200 if self.path == "/alerts" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = LoopbackServer(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}/alerts"

    def find(self, alertname: str, status: str) -> dict[str, Any] | None:
        for body in list(self.bodies):
            if body["status"] == status and any(
                a["labels"].get("alertname") == alertname for a in body["alerts"]
            ):
                return body
        return None


class LiveExposition:
    """observability's /metrics stand-in: real lab collectors, 1 Hz, into a RingStore."""

    def __init__(self, collectors: list[Collector], port: int) -> None:
        self.collectors, self.store = collectors, RingStore()
        self.failures: dict[str, int] = {}
        self.stopped = threading.Event()
        store = self.store

        class Handler(Quiet):
            def do_GET(self) -> None:
                body = render(store)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = LoopbackServer(Handler, port)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            begin = time.monotonic()
            for collector in self.collectors:
                try:
                    self.store.add(collector.collect(time.time()))
                except Exception:  # counted, like the real runner: one failure stops nothing
                    self.failures[collector.name] = self.failures.get(collector.name, 0) + 1
            self.stopped.wait(max(0.0, 1.0 - (time.monotonic() - begin)))

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)
        self.server.close()
        for collector in self.collectors:  # HTTP clients, DB connections, log files
            close = getattr(collector, "close", None)
            if callable(close):
                close()


@dataclass
class Stack:
    prometheus: StackProcess
    alertmanager: StackProcess
    api: PrometheusAPI
    webhooks: Webhooks
    exposition: LiveExposition


@pytest.fixture(scope="module")
def stack(
    lab: BackgroundLab,
    lab_settings: LabSettings,
    lab_paths: StatePaths,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    require_binary(*PROMETHEUS_BINARIES, package="prometheus")
    require_binary(*ALERTMANAGER_BINARIES, package="prometheus-alertmanager")
    runtime = LocalRuntime.from_state_dir(lab_paths)
    exposition = LiveExposition(
        lab_collectors(settings=lab_settings, paths=lab_paths, runtime=runtime),
        lab_settings.observability_port,
    )
    webhooks = Webhooks()
    home = tmp_path_factory.mktemp("stack")
    am_port = free_port()
    files = write_stack(
        home / "config",
        settings=lab_settings,
        chaos_key_file=lab_paths.secret("chaos.key"),
        webhook_url=webhooks.url,
        alertmanagers=[f"127.0.0.1:{am_port}"],
        timing=Timing(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s"),
        grouping=Grouping(group_wait="1s", group_interval="1s", repeat_interval="1h"),
        rules=with_for(load_rules(), "2s", interval="1s"),
    )
    try:
        with (
            alertmanager(files.alertmanager, data_dir=home / "am", port=am_port) as am,
            prometheus(files.prometheus, data_dir=home / "prom") as prom,
        ):
            api = PrometheusAPI(prom.url)
            yield Stack(prom, am, api, webhooks, exposition)
            api.close()
    finally:
        exposition.close()
        webhooks.server.close()
        runtime.close()


def test_prometheus_scrapes_every_lab_metrics_endpoint(stack: Stack) -> None:
    def healthy() -> dict[str, str] | None:
        health = {t["labels"]["job"]: t["health"] for t in stack.api.targets()}
        return health if set(health.values()) == {"up"} else None

    health = wait_for("every target up", healthy, timeout=60)
    assert set(health) == {"target", "action", "chaos", "observability"}
    # The target's own series arrive with the service label the rules and dashboards use.
    series = stack.api.query('breakfix_http_requests_total{job="target"}')
    assert series and all(s["metric"]["service"] == "target" for s in series)


def prometheus_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every Prometheus target of every shipped dashboard."""
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel.get("datasource") or {}
                if source.get("type") == "prometheus":
                    queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    return queries


def test_every_dashboard_panel_query_returns_data(stack: Stack) -> None:
    queries = prometheus_queries()
    assert len(queries) >= 25
    # No Grafana-only variables: each expression runs as it is.
    assert not [q for q in queries if re.search(r"\$\w", q[1])]
    pending = dict(queries)
    outcomes: dict[str, str] = {}

    def all_answered() -> bool:
        for title, expr in list(pending.items()):
            result = stack.api.query(expr)
            outcomes[title] = f"{len(result)} series"
            if result:
                del pending[title]
        return not pending

    try:
        wait_for("every panel to have data", all_answered, timeout=120)
    except AssertionError:
        empty = {title: pending[title] for title in pending}
        raise AssertionError(
            f"panels without data: {empty}; collector failures: {stack.exposition.failures}"
        ) from None


def test_the_chaos_annotation_query_runs_on_ops_db(lab_paths: StatePaths) -> None:
    dashboard = json.loads((DASHBOARDS / "lab-overview.json").read_text())
    annotation = next(a for a in dashboard["annotations"]["list"] if a["name"] == "Chaos events")
    # Grafana expands $__timeFilter(col); the same predicate in plain SQL:
    sql = annotation["target"]["rawSql"].replace(
        "$__timeFilter(ts)", "ts BETWEEN now() - interval '1 hour' AND now()"
    )
    url = read_env(lab_paths.action_env)["ACTION_OPS_DB_URL"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(sql)).mappings().all()
    finally:
        engine.dispose()
    assert all({"time", "text", "tags"} <= set(row) for row in rows)


def test_a_frozen_target_fires_an_alert_that_alertmanager_delivers(
    stack: Stack, lab_paths: StatePaths
) -> None:
    wait_for("the target scraped", lambda: stack.api.query('up{job="target"} == 1'), 60)
    runtime = LocalRuntime.from_state_dir(lab_paths)
    try:
        runtime.signal("target", "SIGSTOP")  # api-hang: the process is there, it answers nothing
        firing = wait_for(
            "a TargetDown webhook", lambda: stack.webhooks.find("TargetDown", "firing"), 120
        )
    finally:
        runtime.signal("target", "SIGCONT")
    assert firing["version"] == "4"
    assert firing["receiver"] == "breakfix-agent"
    assert firing["groupLabels"] == {"alertname": "TargetDown", "service": "target"}
    assert firing["commonLabels"]["severity"] == "critical"
    assert {"groupKey", "externalURL", "truncatedAlerts"} <= set(firing)
    (alert,) = [a for a in firing["alerts"] if a["labels"]["alertname"] == "TargetDown"]
    assert alert["status"] == "firing"
    assert alert["labels"]["service"] == "target"
    assert alert["labels"]["job"] == "target"
    assert alert["annotations"]["summary"]
    assert alert["startsAt"] and alert["fingerprint"]
    # Once the target runs again the same alert is resolved, and that is delivered too.
    try:
        resolved = wait_for(
            "the resolved webhook", lambda: stack.webhooks.find("TargetDown", "resolved"), 120
        )
        assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    finally:
        runtime.close()
