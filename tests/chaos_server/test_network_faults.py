"""net-db-latency and net-db-partition on a real lab: db-proxy toxics, the target's symptoms,
switch-to-fallback db, and reverts back to the lab as it was."""

import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from action_server.actions.routing import SwitchParams, execute
from action_server.context import ActionContext, ActionFailed
from breakfix.background import PORT_VARS, BackgroundLab
from chaos_server.config import Settings
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from tests.support.asgi import TestClient
from tests.support.chaos_lab import ALLOWLIST, ChaosFactory, products_ok, target_url, wait_for
from tests.support.ports import free_port

pytestmark = pytest.mark.slow


def _lab_settings(lab: BackgroundLab, **overrides: Any) -> LabSettings:
    """Every port of the lab, db-proxy's admin port overridable."""
    ports = {var.lower(): int(lab.env[f"BREAKFIX_{var}"]) for var in PORT_VARS}
    values = {"state_dir": lab.state_dir, **ports, **overrides}
    return LabSettings(_env_file=None, **values)


@pytest.fixture
def net_chaos(make_chaos: ChaosFactory, lab: BackgroundLab) -> Iterator[TestClient]:
    """A chaos app allowed to act on db-proxy."""
    client = make_chaos(allowlist=[*ALLOWLIST, "db-proxy"])
    yield client
    # Whatever a test did, the target goes back to the primary route and nothing stays.
    client.post("/kill")
    client.post("/kill/release")
    if read_env(StatePaths.at(lab.state_dir).target_env).get("TARGET_DB_ROUTE") == "fallback":
        _switch(client, lab, "primary")


def _switch(chaos: TestClient, lab: BackgroundLab, route: str, ready_s: float = 60.0) -> Any:
    """switch-to-fallback dependency=db, exactly as the action server runs it."""
    parts = chaos.app.state.parts  # type: ignore[attr-defined]
    ctx = ActionContext(
        runtime=parts.ctx.runtime,
        paths=StatePaths.at(lab.state_dir),
        target_db=parts.ctx.target_db,
        target_url=target_url(lab),
        ready_timeout_s=ready_s,
        db_route_ports={
            "primary": lab.port("DB_PROXY"),
            "fallback": lab.port("DB_PROXY_FALLBACK"),
        },
    )
    return execute(ctx, SwitchParams(dependency="db", route=route))


def _db(lab: BackgroundLab, port: str) -> Any:
    url = make_url(read_env(StatePaths.at(lab.state_dir).target_env)["TARGET_DATABASE_URL"])
    return psycopg2.connect(
        host="127.0.0.1",
        port=lab.port(port),
        user=url.username,
        password=url.password,
        dbname=url.database,
        connect_timeout=3,
    )


def _select_1_s(conn: Any) -> float:
    begin = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    return time.perf_counter() - begin


def _lane_median_s(lab: BackgroundLab, port: str) -> float:
    conn = _db(lab, port)  # connected first: only the query is timed
    try:
        return statistics.median(_select_1_s(conn) for _ in range(5))
    finally:
        conn.close()


def _products_p50_s(lab: BackgroundLab) -> float:
    samples = []
    for _ in range(5):
        begin = time.perf_counter()
        assert httpx.get(target_url(lab, "/products"), timeout=30).status_code == 200
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def _toxics(chaos: TestClient) -> dict[str, list[str]]:
    response = chaos.get("/proxies")
    assert response.status_code == 200, response.text
    return {lane: [t["name"] for t in s["toxics"]] for lane, s in response.json().items()}


def _ready(lab: BackgroundLab) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(target_url(lab, "/ready"), timeout=10)
    except httpx.TimeoutException:
        return 0, {}
    return response.status_code, response.json()


def _db_check_fails(lab: BackgroundLab) -> bool:
    status, body = _ready(lab)
    return status == 503 and body["checks"]["db"]["ok"] is False


def _revert(chaos: TestClient, fault: str) -> dict[str, Any]:
    body: dict[str, Any] = chaos.delete(f"/faults/{fault}").json()
    return body


def test_net_db_latency_slows_the_primary_route_only_until_reverted(
    net_chaos: TestClient, lab: BackgroundLab
) -> None:
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}
    baseline = _products_p50_s(lab)
    created = net_chaos.post(
        "/break/net-db-latency",
        json={"target": "db-proxy", "ttl_s": 120, "params": {"latency_ms": 500, "jitter_ms": 0}},
    )
    assert created.status_code == 201, created.text
    fault = created.json()["id"]
    assert _toxics(net_chaos) == {"primary": [f"net-db-latency-{fault}"], "fallback": []}

    assert _lane_median_s(lab, "DB_PROXY") >= 0.5
    assert _lane_median_s(lab, "DB_PROXY_FALLBACK") < 0.25  # the fallback route stays fast
    slow = _products_p50_s(lab)  # the target's pooled connections are slowed too
    assert slow >= 0.5 and slow > baseline + 0.4, (slow, baseline)

    reverted = _revert(net_chaos, fault)
    assert reverted["state"] == "reverted" and reverted["error"] is None
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}
    assert _lane_median_s(lab, "DB_PROXY") < 0.25
    assert _products_p50_s(lab) < 0.5
    again = _revert(net_chaos, fault)  # twice: nothing changes, nothing fails
    assert again["state"] == "reverted" and again["error"] is None


def test_switch_to_fallback_fixes_net_db_latency_and_the_revert_keeps_the_switch(
    net_chaos: TestClient, lab: BackgroundLab
) -> None:
    created = net_chaos.post(
        "/break/net-db-latency", json={"params": {"latency_ms": 800, "jitter_ms": 0}}
    ).json()
    assert _products_p50_s(lab) >= 0.8

    outcome = _switch(net_chaos, lab, "fallback")  # the catalogue's correct response
    assert outcome.details["to"] == "fallback"
    assert _products_p50_s(lab) < 0.5  # fixed while the toxic is still on the primary lane
    assert _toxics(net_chaos)["primary"] == [f"net-db-latency-{created['id']}"]

    assert _revert(net_chaos, created["id"])["state"] == "reverted"
    env = read_env(StatePaths.at(lab.state_dir).target_env)
    assert env["TARGET_DB_ROUTE"] == "fallback"  # the agent's fix is kept
    assert f":{lab.port('DB_PROXY_FALLBACK')}/" in env["TARGET_DATABASE_URL"]
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}
    _switch(net_chaos, lab, "primary")
    assert products_ok(lab)


def test_net_db_partition_leaves_no_db_route_and_the_target_recovers_after_revert(
    net_chaos: TestClient, lab: BackgroundLab
) -> None:
    created = net_chaos.post("/break/net-db-partition", json={"ttl_s": 180})
    assert created.status_code == 201, created.text
    fault = created.json()["id"]
    name = f"net-db-partition-{fault}"
    assert _toxics(net_chaos) == {"primary": [name], "fallback": [name]}
    for port in ("DB_PROXY", "DB_PROXY_FALLBACK"):
        with pytest.raises(psycopg2.OperationalError):
            _db(lab, port).close()
    wait_for(lambda: _db_check_fails(lab), timeout=30, what="/ready failing on the db check")

    # switch-to-fallback does not help: the fallback lane is partitioned too.
    with pytest.raises(ActionFailed):
        _switch(net_chaos, lab, "fallback", ready_s=10)
    assert read_env(StatePaths.at(lab.state_dir).target_env)["TARGET_DB_ROUTE"] == "fallback"
    assert _db_check_fails(lab)

    reverted = _revert(net_chaos, fault)
    assert reverted["state"] == "reverted" and reverted["error"] is None
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}
    # No restart: the target's pool reconnects by itself.
    wait_for(lambda: _ready(lab)[0] == 200, timeout=30, what="target ready again")
    assert _revert(net_chaos, fault)["error"] is None
    _switch(net_chaos, lab, "primary")
    assert _ready(lab)[0] == 200 and products_ok(lab)


def test_a_reset_partition_reverted_after_db_proxy_was_restarted(
    net_chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    created = net_chaos.post(
        "/break/net-db-partition", json={"params": {"mode": "reset", "timeout_ms": 0}}
    )
    assert created.status_code == 201, created.text
    with pytest.raises(psycopg2.OperationalError):
        _db(lab, "DB_PROXY").close()
    wait_for(lambda: _db_check_fails(lab), timeout=30, what="/ready failing on the db check")

    runtime.restart("db-proxy")  # someone else's fix: a restarted db-proxy has no toxics
    wait_for(lambda: runtime.status("db-proxy").health == "healthy", what="db-proxy back")
    wait_for(lambda: _ready(lab)[0] == 200, timeout=30, what="target ready again")
    reverted = _revert(net_chaos, created.json()["id"])
    assert reverted["state"] == "reverted" and reverted["error"] is None
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}
    assert products_ok(lab)


def test_proxies_relays_db_proxy_and_answers_502_when_it_is_unreachable(
    net_chaos: TestClient, lab: BackgroundLab
) -> None:
    body = net_chaos.get("/proxies").json()
    assert body["primary"]["listen"].endswith(f":{lab.port('DB_PROXY')}")
    assert body["fallback"]["listen"].endswith(f":{lab.port('DB_PROXY_FALLBACK')}")
    assert body["primary"]["upstream"].endswith(f":{lab.port('TARGET_DB')}")
    assert net_chaos.get("/proxies", headers={"X-Chaos-Key": "wrong"}).status_code == 401

    ctx = net_chaos.app.state.parts.ctx  # type: ignore[attr-defined]
    ctx.lab = _lab_settings(lab, db_proxy_admin_port=free_port())  # nothing listens there
    down = net_chaos.get("/proxies")
    assert down.status_code == 502 and down.json()["code"] == "db_proxy_unavailable"
    refused = net_chaos.post("/break/net-db-latency", json={})
    assert refused.status_code == 409 and refused.json()["code"] == "precondition_failed"
    ctx.lab = _lab_settings(lab)


@pytest.mark.parametrize(
    ("fault", "params", "code"),
    [
        ("net-db-latency", {"latency_ms": 0}, "invalid_params"),
        ("net-db-latency", {"latency_ms": 100, "stream": "up"}, "invalid_params"),
        ("net-db-latency", {"latency_ms": 6000}, "intensity_over_max"),
        ("net-db-partition", {"timeout_ms": 50}, "invalid_params"),
        ("net-db-partition", {"mode": "reset", "timeout_ms": -1}, "invalid_params"),
        ("net-db-partition", {"mode": "drop"}, "invalid_params"),
    ],
)
def test_bad_network_params_are_refused(
    net_chaos: TestClient, fault: str, params: dict[str, Any], code: str
) -> None:
    response = net_chaos.post(f"/break/{fault}", json={"params": params})
    assert response.status_code == 422 and response.json()["code"] == code
    assert _toxics(net_chaos) == {"primary": [], "fallback": []}


def test_db_proxy_and_the_upstream_stubs_are_on_the_default_allowlist() -> None:
    default = Settings.model_fields["allowlist"].default
    assert {"db-proxy", "upstream-primary", "upstream-fallback"} <= set(default)
