"""End to end: `breakfix run`, `status`, the control endpoint, `down`, as real processes."""

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg2
import pytest

from breakfix.background import BREAKFIX, lab_environment
from breakfix.background import BackgroundLab as Lab
from lab.errors import UnknownServiceError
from lab.paths import StatePaths
from lab.postgres import Cluster, find_bindir, server_user
from lab.runtime.local import LocalRuntime, RuntimeCallError
from lab.secrets import read_secret
from tests.support.pg import make_state_dir, remove_state_dir

SERVICES = {
    "ops-db",
    "target-db",
    "db-proxy",
    "upstream-primary",
    "upstream-fallback",
    "target",
    "action",
    "chaos",
}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    state_dir = make_state_dir("breakfix-lab-")
    running = Lab(state_dir, lab_environment(state_dir))
    running.start()
    yield running
    running.down()
    remove_state_dir(state_dir)


@pytest.fixture
def runtime(lab: Lab) -> Iterator[LocalRuntime]:
    client = LocalRuntime.from_state_dir(StatePaths.at(lab.state_dir))
    yield client
    client.close()


def test_status_json_shows_every_service_healthy_without_secrets(lab: Lab) -> None:
    report = lab.status()
    assert set(report["services"]) == SERVICES
    for name, entry in report["services"].items():
        assert set(entry) >= {"pid", "port", "url", "health", "uptime_s"}, name
        assert entry["health"] == "healthy" and psutil.pid_exists(entry["pid"])
        assert entry["uptime_s"] >= 0
    password = read_secret(lab.state_dir / "secrets" / "target-db-app.password")
    dsn = report["services"]["target-db"]["dsn"]
    assert dsn == f"postgresql://breakfix_app@127.0.0.1:{lab.port('TARGET_DB')}/shop"
    assert password not in dsn
    assert "dsn" not in report["services"]["target"]
    shown = lab.status("--show-secrets")["services"]["target-db"]["dsn"]
    assert f":{password}@" in shown


def test_control_endpoint_requires_the_token(lab: Lab) -> None:
    url = f"http://127.0.0.1:{lab.port('CONTROL')}/services"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_runtime_lists_stats_and_tails_logs(lab: Lab, runtime: LocalRuntime) -> None:
    assert {s.name for s in runtime.list()} == SERVICES
    stats = runtime.stats("target-db")
    assert stats.processes > 1 and stats.rss_bytes > 0  # postmaster plus its workers
    httpx.get(f"http://127.0.0.1:{lab.port('TARGET')}/products")
    # the access line reaches the log file a moment after the response (seen in CI)
    deadline = time.monotonic() + 10.0
    while not any("/products" in line for line in runtime.logs("target", 50)):
        assert time.monotonic() < deadline, runtime.logs("target", 50)[-5:]
        time.sleep(0.2)
    with pytest.raises(UnknownServiceError):
        runtime.stats("nope")
    runtime.stop("upstream-fallback")
    with pytest.raises(RuntimeCallError, match="not running"):
        runtime.stats("upstream-fallback")
    runtime.start("upstream-fallback")
    _wait_healthy(runtime, "upstream-fallback")


def test_target_sessions_carry_the_application_name(lab: Lab) -> None:
    httpx.get(f"http://127.0.0.1:{lab.port('TARGET')}/products").raise_for_status()
    password = read_secret(lab.state_dir / "secrets" / "target-db-app.password")
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=lab.port("TARGET_DB"),
        dbname="shop",
        user="breakfix_app",
        password=password,
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname='shop'")
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    assert "breakfix-target" in names


def test_victim_is_not_restarted_but_can_be_started(lab: Lab, runtime: LocalRuntime) -> None:
    before = runtime.status("target")
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)
    time.sleep(1.5)
    assert runtime.status("target").health == "stopped"
    runtime.start("target")
    _wait_healthy(runtime, "target")
    fallback_pid = runtime.status("upstream-fallback").pid
    restarted = runtime.restart("upstream-fallback")
    assert restarted.pid is not None and restarted.pid != fallback_pid
    assert fallback_pid is not None and not psutil.pid_exists(fallback_pid)
    _wait_healthy(runtime, "upstream-fallback")


def test_supervisor_events_are_recorded_in_ops_db(lab: Lab) -> None:
    password = read_secret(lab.state_dir / "secrets" / "ops-db.password")
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=lab.port("OPS_DB"),
        dbname="breakfix_ops",
        user="breakfix_ops",
        password=password,
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT service FROM events WHERE kind = 'service_started'")
        started = {row[0] for row in cur.fetchall()}
        cur.execute("SELECT name FROM services")
        registered = {row[0] for row in cur.fetchall()}
    conn.close()
    assert started >= SERVICES - {"ops-db"}  # ops-db starts before it can record anything
    assert registered == SERVICES


def test_down_leaves_no_process_and_data_survives_a_restart() -> None:
    state_dir = make_state_dir("breakfix-down-")
    lab = Lab(state_dir, lab_environment(state_dir))
    try:
        report = lab.start()
        target = f"http://127.0.0.1:{lab.port('TARGET')}"
        created = httpx.post(
            f"{target}/products",
            json={
                "sku": "SURVIVOR-1",
                "name": "Survives restarts",
                "quantity": 3,
                "category": "test",
            },
        )
        assert created.status_code == 201, created.text
        pids = _tree_pids([s["pid"] for s in report["services"].values()])
        assert lab.proc is not None
        pids.add(lab.proc.pid)

        lab.down()
        assert lab.proc.returncode == 0
        assert not [p for p in pids if _alive(p)], "processes left behind"
        for name in ("target-db", "ops-db"):
            assert _cluster(state_dir, name).state() == "shut down"
        assert all(s["health"] == "stopped" for s in lab.status()["services"].values())

        lab.start()
        listed = httpx.get(f"{target}/products", params={"limit": 100}).json()
        assert "SURVIVOR-1" in {p["sku"] for p in listed}
    finally:
        lab.down()
        remove_state_dir(state_dir)


def test_a_killed_supervisor_takes_its_children_with_it() -> None:
    state_dir = make_state_dir("breakfix-kill9-")
    lab = Lab(state_dir, lab_environment(state_dir))
    try:
        report = lab.start()
        pids = [s["pid"] for s in report["services"].values()]
        assert lab.proc is not None
        lab.proc.send_signal(signal.SIGKILL)
        lab.proc.wait()
        deadline = time.monotonic() + 30
        while [p for p in pids if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in pids if _alive(p)]
        assert _cluster(state_dir, "target-db").state() == "shut down"
    finally:
        lab.down()
        remove_state_dir(state_dir)


def _wait_healthy(runtime: LocalRuntime, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while runtime.status(name).health != "healthy":
        assert time.monotonic() < deadline, f"{name} not healthy"
        time.sleep(0.2)


def _tree_pids(roots: list[int]) -> set[int]:
    pids = set(roots)
    for pid in roots:
        pids.update(child.pid for child in psutil.Process(pid).children(recursive=True))
    return pids


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cluster(state_dir: Path, name: str) -> Cluster:
    return Cluster(
        name=name,
        data_dir=state_dir / "pg" / name,
        port=1,
        bindir=find_bindir(),
        user=server_user(),
    )


def test_logs_command_tails_follows_and_names_unknown_services(lab: Lab) -> None:
    httpx.get(f"http://127.0.0.1:{lab.port('TARGET')}/products")
    lines = lab.cli("logs", "target", "-n", "3").stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("{") for line in lines)  # JSON logs

    unknown = lab.cli("logs", "nope", check=False)
    assert unknown.returncode == 1 and "target-db" in unknown.stderr

    follower = subprocess.Popen(
        [BREAKFIX, "logs", "target", "-f", "-n", "0"],
        env=lab.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        # The follower may still be starting (a busy machine): ask again every second until
        # a request shows up in what it prints, reading only when a line is there.
        deadline, seen = time.monotonic() + 60, False
        while not seen and time.monotonic() < deadline:
            httpx.get(f"http://127.0.0.1:{lab.port('TARGET')}/products/1")
            until = time.monotonic() + 1.0
            while not seen and time.monotonic() < until:
                ready, _, _ = select.select([follower.stdout], [], [], 0.2)
                if ready:
                    seen = "/products/1" in follower.stdout.readline()
        assert seen, "the followed log never showed the request"
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


def test_status_table_for_people(lab: Lab) -> None:
    table = lab.cli("status").stdout
    assert all(name in table for name in SERVICES) and "healthy" in table


def test_chaos_commands_break_list_and_kill(lab: Lab) -> None:
    target = f"http://127.0.0.1:{lab.port('TARGET')}"
    fault = json.loads(lab.cli("break", "api-hang", "--ttl", "120").stdout)
    with pytest.raises(httpx.TimeoutException):  # the symptom: a frozen API
        httpx.get(f"{target}/ready", timeout=1.5)
    active = json.loads(lab.cli("faults", "--state", "active").stdout)
    assert fault["id"] in {f["id"] for f in active}

    lab.cli("kill")
    assert httpx.get(f"{target}/ready", timeout=10).status_code == 200
    refused = lab.cli("break", "noop", check=False)
    assert refused.returncode == 1 and "kill_switch_engaged" in refused.stderr
    lab.cli("kill", "--release")
    assert json.loads(lab.cli("break", "noop", "--ttl", "1").stdout)["fault_id"] == "noop"
    unknown = lab.cli("break", "meteor-strike", check=False)
    assert unknown.returncode == 1 and "404" in unknown.stderr
