"""db-down, db-pool-exhaustion, upstream-outage and upstream-dns on a real lab, and the
chaos DB role the Postgres faults run as."""

import secrets
import stat
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg2
import pytest
from psycopg2 import errors

from action_server.actions import routing
from action_server.actions.blockers import execute_blockers
from action_server.catalogue import NoParams
from action_server.context import ActionContext
from breakfix.background import BackgroundLab
from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault
from lab.chaos_role import CHAOS_ROLE, CHAOS_SCHEMA
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import APP_DB, APP_PASSWORD, APP_ROLE, PRIMARY_HOST
from tests.support.asgi import TestClient
from tests.support.chaos_lab import products_ok, target_url, wait_for

pytestmark = pytest.mark.slow

SLOTS_FULL = ("remaining connection slots are reserved", "too many clients")


def _ctx(chaos: TestClient) -> ChaosContext:
    ctx: ChaosContext = chaos.app.state.parts.ctx  # type: ignore[attr-defined]
    return ctx


def _catalogue_fault(chaos: TestClient, fault: str) -> Fault:
    found: Fault = chaos.app.state.parts.catalogue[fault]  # type: ignore[attr-defined]
    return found


def _break(chaos: TestClient, fault: str, target: str | None = None, **params: Any) -> str:
    body: dict[str, Any] = {"ttl_s": 120, "params": params}
    if target is not None:
        body["target"] = target
    created = chaos.post(f"/break/{fault}", json=body)
    assert created.status_code == 201, created.text
    key: str = created.json()["id"]
    return key


def _revert(chaos: TestClient, key: str) -> dict[str, Any]:
    reverted: dict[str, Any] = chaos.delete(f"/faults/{key}").json()
    assert reverted["state"] == "reverted" and reverted["error"] is None, reverted
    return reverted


def _revert_again(chaos: TestClient, fault: str, key: str) -> None:
    """Call the fault's own revert once more, as a second watchdog or a kill would."""
    data = chaos.get(f"/faults/{key}").json()["revert_data"]
    _catalogue_fault(chaos, fault).revert(_ctx(chaos), data)


def _ready(lab: BackgroundLab) -> httpx.Response:
    return httpx.get(target_url(lab, "/ready"), timeout=10)


def _check_failing(lab: BackgroundLab, check: str) -> Callable[[], bool]:
    def failing() -> bool:
        try:
            ready = _ready(lab)
        except httpx.HTTPError:
            return False  # still starting
        return ready.status_code == 503 and ready.json()["checks"][check]["ok"] is False

    return failing


def _target_ready(lab: BackgroundLab) -> bool:
    try:
        return _ready(lab).status_code == 200
    except httpx.HTTPError:
        return False


def _action_ctx(chaos: TestClient, runtime: LocalRuntime, lab: BackgroundLab) -> ActionContext:
    ctx = _ctx(chaos)
    return ActionContext(
        runtime=runtime,
        paths=ctx.paths,
        target_db=ctx.target_db,
        target_url=target_url(lab),
        db_route_ports={
            "primary": ctx.lab.db_proxy_port,
            "fallback": ctx.lab.db_proxy_fallback_port,
        },
    )


# --- the chaos DB role --------------------------------------------------------------------


def _one(cluster: Cluster, query: str, dbname: str = APP_DB) -> Any:
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
            return None if row is None else row[0] if len(row) == 1 else row
    finally:
        conn.close()


def _chaos_connect(cluster: Cluster) -> Any:
    conn = psycopg2.connect(
        host=str(cluster.socket_dir), port=cluster.port, user=CHAOS_ROLE, dbname=APP_DB
    )
    conn.autocommit = True
    return conn


def test_chaos_role_has_only_what_the_faults_need(chaos: TestClient) -> None:
    cluster = _ctx(chaos).target_db
    attrs = _one(
        cluster,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
        f" rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = '{CHAOS_ROLE}'",
    )
    assert attrs == (False, True, False, False, False, True, True)
    config = _one(cluster, f"SELECT rolconfig FROM pg_roles WHERE rolname = '{CHAOS_ROLE}'")
    assert {"log_statement=none", "log_min_error_statement=panic"} <= set(config)
    owner = f"SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '{CHAOS_SCHEMA}'"
    assert _one(cluster, owner) == CHAOS_ROLE
    conn = _chaos_connect(cluster)
    try:
        with conn.cursor() as cur:
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute("SELECT count(*) FROM products")  # only TRUNCATE, for LOCK
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute("CREATE TABLE public.chaos_was_here (id int)")
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute("CREATE DATABASE chaos_was_here")
    finally:
        conn.close()
    with pytest.raises(psycopg2.OperationalError):  # no password: no login over TCP
        psycopg2.connect(
            host=cluster.host, port=cluster.port, user=CHAOS_ROLE, dbname=APP_DB, password="x"
        ).close()


def test_db_lock_session_is_the_chaos_roles(chaos: TestClient) -> None:
    cluster = _ctx(chaos).target_db
    key = _break(chaos, "db-lock", table="inventory")
    who = "SELECT usename FROM pg_stat_activity WHERE application_name = 'breakfix-chaos'"
    assert _one(cluster, who) == CHAOS_ROLE
    _revert(chaos, key)
    assert _one(cluster, who) is None


# --- db-down ------------------------------------------------------------------------------


def test_db_down_fails_the_target_and_the_revert_starts_one_copy(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    before = runtime.status("target-db").pid
    key = _break(chaos, "db-down")
    assert runtime.status("target-db").pid is None
    wait_for(_check_failing(lab, "db"), what="db check failing")
    assert not products_ok(lab)

    _revert(chaos, key)
    status = runtime.status("target-db")
    assert status.health == "healthy" and status.pid not in (None, before)
    wait_for(lambda: products_ok(lab), timeout=30, what="products readable")
    _revert_again(chaos, "db-down", key)  # a second revert starts no second copy
    assert runtime.status("target-db").pid == status.pid
    wait_for(lambda: _target_ready(lab), timeout=30, what="target ready")


def test_db_down_revert_keeps_a_restart_db_made_by_someone_else(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    key = _break(chaos, "db-down")
    runtime.restart("target-db")  # restart-db, as the agent would
    wait_for(lambda: runtime.status("target-db").health == "healthy", what="target-db healthy")
    fixed = runtime.status("target-db").pid
    _revert(chaos, key)
    assert runtime.status("target-db").pid == fixed
    wait_for(lambda: products_ok(lab), timeout=30, what="products readable")


# --- db-pool-exhaustion -------------------------------------------------------------------


def _chaos_sessions(cluster: Cluster) -> int:
    query = f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{CHAOS_ROLE}'"
    return int(_one(cluster, query))


def _app_connect(cluster: Cluster, lab: BackgroundLab) -> None:
    password = read_secret(StatePaths.at(lab.state_dir).secret(APP_PASSWORD))
    psycopg2.connect(
        host=cluster.host,
        port=cluster.port,
        user=APP_ROLE,
        password=password,
        dbname=APP_DB,
        connect_timeout=5,
    ).close()


def _app_refused(cluster: Cluster, lab: BackgroundLab) -> str:
    with pytest.raises(psycopg2.OperationalError) as refused:
        _app_connect(cluster, lab)
    return str(refused.value)


@pytest.fixture
def healthy_target_after(lab: BackgroundLab, runtime: LocalRuntime) -> Iterator[None]:
    """Whatever a test did to the target, it is ready again before the next test."""
    yield
    if runtime.status("target").pid is None:
        runtime.start("target")
    wait_for(lambda: _target_ready(lab), timeout=60, what="target ready")


def test_db_pool_exhaustion_refuses_new_app_connections_until_reverted(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime, healthy_target_after: None
) -> None:
    cluster = _ctx(chaos).target_db
    assert _chaos_sessions(cluster) == 0
    key = _break(chaos, "db-pool-exhaustion")
    data = chaos.get(f"/faults/{key}").json()["revert_data"]
    assert data["held"] >= data["free_slots"] - 5 > 0  # others come and go meanwhile
    assert _chaos_sessions(cluster) >= data["held"]  # and it takes whatever is freed
    assert any(text in _app_refused(cluster, lab) for text in SLOTS_FULL)
    assert cluster.is_ready()  # the superuser slots are left to the lab's own tools
    # The running target keeps the pooled connections it had. Restarted, its old slots are
    # freed, the hog takes them and the new process cannot connect: readiness says why.
    runtime.restart("target")
    wait_for(_check_failing(lab, "db"), what="db check failing")
    detail = _ready(lab).json()["checks"]["db"]["detail"]
    assert any(text in detail for text in SLOTS_FULL), detail
    assert not products_ok(lab)

    _revert(chaos, key)
    assert _chaos_sessions(cluster) == 0
    _app_connect(cluster, lab)
    wait_for(lambda: products_ok(lab), what="products readable")
    _revert_again(chaos, "db-pool-exhaustion", key)
    assert _chaos_sessions(cluster) == 0


def test_db_pool_revert_after_terminate_db_blockers_keeps_the_fix(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    cluster = _ctx(chaos).target_db
    key = _break(chaos, "db-pool-exhaustion")
    held = chaos.get(f"/faults/{key}").json()["revert_data"]["held"]
    # The action server's own terminate-db-blockers: the idle hog sessions are not the app's.
    outcome = execute_blockers(_action_ctx(chaos, runtime, lab), NoParams())
    hogs = [s for s in outcome.details["terminated"] if s["usename"] == CHAOS_ROLE]
    assert len(hogs) >= held
    # The hog notices and lets go of anything it took meanwhile: the app gets in.
    wait_for(lambda: _chaos_sessions(cluster) == 0, what="hog gone")
    _app_connect(cluster, lab)

    _revert(chaos, key)
    assert _chaos_sessions(cluster) == 0
    _app_connect(cluster, lab)
    wait_for(lambda: products_ok(lab), what="products readable")


def test_db_pool_share_takes_part_of_the_free_slots(chaos: TestClient, lab: BackgroundLab) -> None:
    cluster = _ctx(chaos).target_db
    refused = chaos.post("/break/db-pool-exhaustion", json={"params": {"share": 1.5}})
    assert refused.status_code == 422
    key = _break(chaos, "db-pool-exhaustion", share=0.5)
    data = chaos.get(f"/faults/{key}").json()["revert_data"]
    assert 0 < data["held"] <= data["free_slots"] // 2 + 1
    _app_connect(cluster, lab)  # half the slots are still free
    _revert(chaos, key)
    assert _chaos_sessions(cluster) == 0


# --- upstream-outage ----------------------------------------------------------------------


def _new_product(lab: BackgroundLab) -> int:
    """A product whose price nobody has asked for yet (nothing cached)."""
    sku = "UP-" + secrets.token_hex(4).upper()
    created = httpx.post(
        target_url(lab, "/products"), json={"sku": sku, "name": "up", "quantity": 1}, timeout=10
    )
    assert created.status_code == 201, created.text
    product: int = created.json()["id"]
    return product


def _price(lab: BackgroundLab, product: int) -> httpx.Response:
    return httpx.get(target_url(lab, f"/products/{product}/price"), timeout=30)


def _stub_outages(chaos: TestClient, lab: BackgroundLab, service: str) -> list[Any]:
    port = lab.port("UPSTREAM_PRIMARY" if service == "upstream-primary" else "UPSTREAM_FALLBACK")
    shown = httpx.get(
        f"http://127.0.0.1:{port}/_control", headers=_ctx(chaos).hook_headers(), timeout=5
    )
    assert shown.status_code == 200, shown.text
    outages: list[Any] = shown.json()["outages"]
    return outages


def test_upstream_outage_fails_pricing_until_reverted(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    product = _new_product(lab)
    key = _break(chaos, "upstream-outage")
    assert [o["fault_key"] for o in _stub_outages(chaos, lab, "upstream-primary")] == [key]
    ready = _ready(lab)
    assert ready.status_code == 503 and ready.json()["checks"]["upstream"]["ok"] is False
    priced = _price(lab, product)
    assert priced.status_code == 503 and priced.json()["code"] == "upstream_unavailable"

    _revert(chaos, key)
    assert _stub_outages(chaos, lab, "upstream-primary") == []
    priced = _price(lab, product)
    assert priced.status_code == 200 and priced.json()["source"] == "primary"
    assert _ready(lab).status_code == 200
    _revert_again(chaos, "upstream-outage", key)
    assert _price(lab, product).status_code == 200


def test_upstream_outage_timeout_mode_outlasts_the_targets_timeout(
    chaos: TestClient, lab: BackgroundLab
) -> None:
    product = _new_product(lab)
    assert chaos.post("/break/upstream-outage", json={"params": {"mode": "x"}}).status_code == 422
    key = _break(chaos, "upstream-outage", mode="timeout")
    upstream = _ready(lab).json()["checks"]["upstream"]
    assert upstream["ok"] is False
    priced = _price(lab, product)
    assert priced.status_code == 503 and "timed out" in priced.json()["detail"]
    _revert(chaos, key)
    assert _price(lab, product).status_code == 200


def test_upstream_outage_revert_keeps_the_switch_to_fallback(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime, healthy_target_after: None
) -> None:
    actx = _action_ctx(chaos, runtime, lab)
    product = _new_product(lab)
    key = _break(chaos, "upstream-outage")
    try:
        routing.execute(actx, routing.SwitchParams())  # switch-to-fallback, the agent's fix
        assert _price(lab, product).json()["source"] == "fallback"
        _revert(chaos, key)
        assert actx.target_env()["TARGET_PRICING_ROUTE"] == "fallback"
        assert _ready(lab).status_code == 200
    finally:
        routing.execute(actx, routing.SwitchParams(route="primary"))


def test_upstream_outage_revert_after_the_stub_restarted(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    key = _break(chaos, "upstream-outage", target="upstream-fallback")
    assert len(_stub_outages(chaos, lab, "upstream-fallback")) == 1
    runtime.restart("upstream-fallback")
    wait_for(lambda: runtime.status("upstream-fallback").health == "healthy", what="stub healthy")
    assert _stub_outages(chaos, lab, "upstream-fallback") == []
    _revert(chaos, key)


# --- upstream-dns -------------------------------------------------------------------------


@pytest.fixture
def hosts_file(lab: BackgroundLab) -> Iterator[tuple[bytes, int]]:
    """The hosts file's bytes and mode before the test; put back afterwards regardless."""
    path = StatePaths.at(lab.state_dir).hosts_file
    before = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    yield before
    if path.read_bytes() != before[0]:
        path.write_bytes(before[0])


def test_upstream_dns_fails_resolution_until_reverted(
    chaos: TestClient, lab: BackgroundLab, hosts_file: tuple[bytes, int]
) -> None:
    path = StatePaths.at(lab.state_dir).hosts_file
    product = _new_product(lab)
    assert (
        chaos.post("/break/upstream-dns", json={"target": "upstream-fallback"}).status_code == 422
    )
    key = _break(chaos, "upstream-dns")
    assert PRIMARY_HOST not in path.read_text()
    upstream = _ready(lab).json()["checks"]["upstream"]
    assert upstream["ok"] is False and "name resolution" in upstream["detail"]
    assert _price(lab, product).status_code == 503
    # Refused while injected: the host has no line left to remove.
    assert chaos.post("/break/upstream-dns", json={"ttl_s": 60}).status_code in (409, 403)

    _revert(chaos, key)
    assert (path.read_bytes(), stat.S_IMODE(path.stat().st_mode)) == hosts_file
    assert _price(lab, product).json()["source"] == "primary"
    _revert_again(chaos, "upstream-dns", key)
    assert path.read_bytes() == hosts_file[0]


def test_upstream_dns_revert_never_duplicates_a_line_someone_put_back(
    chaos: TestClient, lab: BackgroundLab, hosts_file: tuple[bytes, int]
) -> None:
    path = StatePaths.at(lab.state_dir).hosts_file
    key = _break(chaos, "upstream-dns")
    fixed = path.read_text() + f"127.0.0.1 {PRIMARY_HOST}\n"  # someone else's fix
    path.write_text(fixed)
    wait_for(lambda: _target_ready(lab), what="target ready")
    _revert(chaos, key)
    assert path.read_text() == fixed
