"""disk-fill, cache-corruption and config-drift: injected for real, symptom seen, reverted."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from action_server.actions import cache as clear_cache
from action_server.actions.config import execute_rollback
from action_server.catalogue import NoParams
from action_server.context import ActionContext
from action_server.known_good import known_good, known_good_path, record_if_ready
from breakfix.background import BackgroundLab, make_state_dir, remove_state_dir
from chaos_server.context import ChaosContext
from chaos_server.faults.cache_corruption import side_root
from chaos_server.faults.disk import BALLAST_PREFIX, DiskFill
from lab.cache_volume import is_lab_mount
from lab.envfile import read_env, write_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.services import clusters
from target_server.cache import PriceCache
from tests.support.asgi import TestClient
from tests.support.chaos_lab import products_ok, target_url, wait_for
from tests.support.lab_settings import lab_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def paths(lab: BackgroundLab) -> StatePaths:
    return StatePaths.at(lab.state_dir)


@pytest.fixture
def action_ctx(lab: BackgroundLab, runtime: LocalRuntime, paths: StatePaths) -> ActionContext:
    """What the action server hands an action, for calling clear-cache and rollback-config."""
    return ActionContext(
        runtime=runtime,
        paths=paths,
        target_db=clusters(lab_settings(lab), paths)["target-db"],
        target_url=target_url(lab),
    )


def ready(lab: BackgroundLab) -> dict[str, Any]:
    try:
        response = httpx.get(target_url(lab, "/ready"), timeout=8)
    except httpx.HTTPError as exc:
        return {"status": "down", "error": str(exc)}
    body: dict[str, Any] = response.json()
    return body


def is_ready(lab: BackgroundLab) -> bool:
    return ready(lab).get("status") == "ready"


def entries(paths: StatePaths) -> dict[str, bytes]:
    """The cache's price entries, name -> bytes."""
    return {p.name: p.read_bytes() for p in sorted(paths.target_cache.glob("price-*.json"))}


def warm(lab: BackgroundLab, count: int = 3) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = httpx.get(
        target_url(lab, "/products"), params={"limit": count}, timeout=10
    ).json()
    for product in products:
        assert httpx.get(target_url(lab, f"/products/{product['id']}/price")).status_code == 200
    return products


def log_of(paths: StatePaths, service: str = "target") -> str:
    return paths.log(service).read_text(errors="replace")


def revert(chaos: TestClient, fault: str) -> dict[str, Any]:
    body: dict[str, Any] = chaos.delete(f"/faults/{fault}").json()
    assert body["state"] == "reverted" and body["error"] is None, body
    return body


# disk-fill ----------------------------------------------------------------------------


def test_disk_fill_fails_the_targets_writes_until_reverted(
    chaos: TestClient, lab: BackgroundLab, paths: StatePaths
) -> None:
    assert is_lab_mount(paths.target_cache), "the lab runs as root: its cache is a tmpfs"
    warm(lab)
    before = entries(paths)
    log_start = len(log_of(paths))
    created = chaos.post("/break/disk-fill", json={"target": "target", "ttl_s": 120})
    assert created.status_code == 201, created.text
    fault = created.json()["id"]
    assert os.statvfs(paths.target_cache).f_bavail == 0
    wait_for(lambda: not is_ready(lab), what="/ready failing")
    cache_check = ready(lab)["checks"]["cache"]
    assert cache_check["ok"] is False and "No space left on device" in cache_check["detail"]
    # A price not cached yet is still served, but its cache write fails and is logged.
    products = httpx.get(target_url(lab, "/products"), params={"limit": 200}).json()
    uncached = next(p for p in products if f"price-{p['sku']}.json" not in before)
    assert httpx.get(target_url(lab, f"/products/{uncached['id']}/price")).status_code == 200
    wait_for(lambda: "No space left on device" in log_of(paths)[log_start:], what="ENOSPC logged")

    revert(chaos, fault)
    assert not list(paths.target_cache.glob(f"{BALLAST_PREFIX}*"))
    assert os.statvfs(paths.target_cache).f_bavail > 0
    wait_for(lambda: is_ready(lab), what="/ready back")
    assert products_ok(lab)
    assert {k: v for k, v in entries(paths).items() if k in before} == before
    revert(chaos, fault)  # twice: nothing to do


def test_disk_fill_revert_after_clear_cache_keeps_the_fix(
    chaos: TestClient, lab: BackgroundLab, paths: StatePaths, action_ctx: ActionContext
) -> None:
    fault = chaos.post("/break/disk-fill", json={"ttl_s": 120}).json()["id"]
    wait_for(lambda: not is_ready(lab), what="/ready failing")
    outcome = clear_cache.execute(action_ctx, NoParams())  # what the agent would do
    assert outcome.details["bytes_freed"] > 0
    assert not list(paths.target_cache.glob(f"{BALLAST_PREFIX}*"))
    wait_for(lambda: is_ready(lab), what="/ready back")
    warm(lab)
    after_fix = entries(paths)
    revert(chaos, fault)
    assert entries(paths) == after_fix
    assert is_ready(lab)


def test_disk_fill_without_tmpfs_uses_up_the_targets_budget() -> None:
    """No tmpfs (not root, or BREAKFIX_CACHE_TMPFS=false): the ballast eats the budget."""
    state = make_state_dir("breakfix-diskfill-")
    try:
        paths = StatePaths.at(state)
        paths.target_cache.mkdir(parents=True)
        paths.env.mkdir()
        write_env(paths.target_env, {"TARGET_CACHE_MAX_BYTES": str(256 * 1024)})
        cache = PriceCache(directory=paths.target_cache, max_bytes=256 * 1024, ttl_s=30)
        (paths.target_cache / "price-X.json").write_bytes(b"{}" * 100)
        ctx = cast(ChaosContext, _PathsOnly(paths))
        fault = DiskFill()
        data = fault.prepare(ctx, "target", NoParams())
        assert data["mode"] == "budget"
        data |= fault.inject(ctx, "target", NoParams(), "k1")
        assert cache.size_bytes() == 256 * 1024
        with pytest.raises(OSError, match="No space left on device"):
            cache.probe()
        fault.revert(ctx, data)
        fault.revert(ctx, data)
        cache.probe()
        assert [p.name for p in paths.target_cache.iterdir()] == ["price-X.json"]
    finally:
        remove_state_dir(state)


class _PathsOnly:
    """The part of ChaosContext that disk-fill uses."""

    def __init__(self, paths: StatePaths) -> None:
        self.paths = paths


# cache-corruption ---------------------------------------------------------------------


def test_cache_corruption_fails_prices_honestly_until_reverted(
    chaos: TestClient, lab: BackgroundLab, paths: StatePaths
) -> None:
    products = warm(lab, 3)
    before = entries(paths)
    created = chaos.post("/break/cache-corruption", json={"params": {"entries": 3}, "ttl_s": 120})
    assert created.status_code == 201, created.text
    fault = created.json()["id"]
    corrupted = chaos.get(f"/faults/{fault}").json()["revert_data"]["entries"]
    assert len(corrupted) == 3
    for name in corrupted:
        assert entries(paths)[name] != before[name]
    victim = next(p for p in products if f"price-{p['sku']}.json" in corrupted)
    response = httpx.get(target_url(lab, f"/products/{victim['id']}/price"))
    assert response.status_code == 500 and response.json()["code"] == "cache_corrupt"
    wait_for(lambda: "cache entry corrupt" in log_of(paths), what="corruption logged")
    # The target does not paper over it: the garbage stays until someone clears the cache.
    assert entries(paths)[f"price-{victim['sku']}.json"] != before[f"price-{victim['sku']}.json"]

    revert(chaos, fault)
    assert entries(paths) == before  # byte for byte
    assert httpx.get(target_url(lab, f"/products/{victim['id']}/price")).status_code == 200
    assert not (side_root(chaos.app.state.parts.ctx) / fault).exists()  # type: ignore[attr-defined]
    revert(chaos, fault)
    assert entries(paths) == before


def test_cache_corruption_revert_after_clear_cache_brings_nothing_back(
    chaos: TestClient, lab: BackgroundLab, paths: StatePaths, action_ctx: ActionContext
) -> None:
    products = warm(lab, 2)
    fault = chaos.post("/break/cache-corruption", json={"params": {"entries": 2}}).json()["id"]
    clear_cache.execute(action_ctx, NoParams())
    assert entries(paths) == {}
    victim = products[0]
    assert httpx.get(target_url(lab, f"/products/{victim['id']}/price")).status_code == 200
    after_fix = entries(paths)
    revert(chaos, fault)
    assert entries(paths) == after_fix


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"entries": 0}, "invalid_params"),
        ({"entries": 21}, "intensity_over_max"),
        ({"entries": 1, "bogus": 1}, "invalid_params"),
    ],
)
def test_cache_corruption_bad_params_are_refused(
    chaos: TestClient, params: dict[str, Any], code: str
) -> None:
    response = chaos.post("/break/cache-corruption", json={"params": params})
    assert response.status_code == 422 and response.json()["code"] == code


# config-drift -------------------------------------------------------------------------


@pytest.fixture
def env_before(paths: StatePaths, lab: BackgroundLab) -> Iterator[bytes]:
    """The env file's bytes before the test, and a check that the target ends up healthy."""
    wait_for(lambda: is_ready(lab), what="target ready before the test")
    before = paths.target_env.read_bytes()
    yield before
    wait_for(lambda: is_ready(lab), timeout=60, what="target ready after the test")


def test_config_drift_stops_the_target_until_reverted(
    chaos: TestClient,
    lab: BackgroundLab,
    paths: StatePaths,
    runtime: LocalRuntime,
    env_before: bytes,
) -> None:
    log_start = len(log_of(paths))
    created = chaos.post("/break/config-drift", json={"target": "target", "ttl_s": 120})
    assert created.status_code == 201, created.text
    fault = created.json()["id"]
    assert read_env(paths.target_env)["TARGET_DB_POOL_SIZE"] == "0"
    wait_for(lambda: runtime.status("target").pid is None, what="target exited")
    assert "TARGET_DB_POOL_SIZE" in log_of(paths)[log_start:]  # it says why it will not start
    assert not products_ok(lab)
    good = known_good_path_of(paths)
    assert not good.exists() or "TARGET_DB_POOL_SIZE=0" not in good.read_text()

    revert(chaos, fault)
    assert paths.target_env.read_bytes() == env_before
    status = runtime.status("target")
    assert status.health == "healthy" and products_ok(lab)
    revert(chaos, fault)  # twice: no second restart
    assert runtime.status("target").pid == status.pid


def test_config_drift_revert_keeps_a_rollback_config(
    chaos: TestClient,
    lab: BackgroundLab,
    paths: StatePaths,
    runtime: LocalRuntime,
    action_ctx: ActionContext,
    env_before: bytes,
) -> None:
    record_if_ready(action_ctx)
    assert known_good(action_ctx) == read_env(paths.target_env)
    fault = chaos.post("/break/config-drift", json={"ttl_s": 120}).json()["id"]
    wait_for(lambda: runtime.status("target").pid is None, what="target exited")
    record_if_ready(action_ctx)  # the drift is never recorded as known good
    execute_rollback(action_ctx, NoParams())  # the agent's fix
    fixed = runtime.status("target")
    assert fixed.health == "healthy"
    revert(chaos, fault)
    assert runtime.status("target").pid == fixed.pid  # no restart: the fix is kept
    assert paths.target_env.read_bytes() == env_before


def test_config_drift_cache_budget_fails_the_cache_check(
    chaos: TestClient, lab: BackgroundLab, paths: StatePaths, env_before: bytes
) -> None:
    created = chaos.post("/break/config-drift", json={"params": {"kind": "cache-budget"}})
    assert created.status_code == 201, created.text
    wait_for(lambda: ready(lab).get("status") == "not_ready", what="/ready failing")
    for _ in range(3):  # steady, not a flap: the known-good recorder must never see it ready
        cache_check = ready(lab)["checks"]["cache"]
        assert cache_check["ok"] is False and "cache budget of 0 bytes" in cache_check["detail"]
    revert(chaos, created.json()["id"])
    assert paths.target_env.read_bytes() == env_before
    assert is_ready(lab)


def test_config_drift_unknown_kind_is_refused(chaos: TestClient) -> None:
    response = chaos.post("/break/config-drift", json={"params": {"kind": "db-name"}})
    assert response.status_code == 422 and response.json()["code"] == "invalid_params"


def known_good_path_of(paths: StatePaths) -> Path:
    return known_good_path(cast(ActionContext, _PathsOnly(paths)))
