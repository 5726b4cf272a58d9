"""The target's in-process faults on a real lab: each symptom observed, then reverted away."""

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from breakfix.background import BackgroundLab
from chaos_server.context import HOOKS_HEADER
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import HOOKS_TOKEN
from target_server.fault_hooks.auth import HOOKS_HEADER as TARGET_HOOKS_HEADER
from tests.support.asgi import TestClient
from tests.support.chaos_lab import products_ok, target_url, wait_for

pytestmark = pytest.mark.slow
MIB = 2**20


@pytest.fixture
def hooks_token(lab: BackgroundLab) -> str:
    return read_secret(StatePaths.at(lab.state_dir).secret(HOOKS_TOKEN))


@pytest.fixture
def hooks(lab: BackgroundLab, hooks_token: str) -> Iterator[httpx.Client]:
    """The target's `/_faults` with the lab's hooks token, as the chaos server calls it."""
    with httpx.Client(
        base_url=target_url(lab), headers={HOOKS_HEADER: hooks_token}, timeout=10
    ) as client:
        yield client


def _break(chaos: TestClient, fault: str, **params: object) -> str:
    created = chaos.post(f"/break/{fault}", json={"target": "target", "params": params})
    assert created.status_code == 201, created.text
    fault_row_id: str = created.json()["id"]
    return fault_row_id


def _revert(chaos: TestClient, fault: str) -> None:
    reverted = chaos.delete(f"/faults/{fault}").json()
    assert reverted["state"] == "reverted" and reverted["error"] is None, reverted


def _active(hooks: httpx.Client) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = hooks.get("/_faults").json()["hooks"]
    return listed


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def _latencies(
    lab: BackgroundLab, n: int, path: str = "/products", workers: int = 1
) -> list[float]:
    def timed(_: int) -> float:
        begin = time.perf_counter()
        response = httpx.get(target_url(lab, path), timeout=30)
        assert response.status_code == 200, response.text
        return time.perf_counter() - begin

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(timed, range(n)))


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def test_memory_leak_grows_the_targets_rss_and_the_revert_frees_it(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime, hooks: httpx.Client
) -> None:
    pid = runtime.status("target").pid
    assert pid is not None
    baseline = _rss(pid)
    fault = _break(chaos, "api-memory-leak", rate_mb_s=64, max_mb=192)
    wait_for(lambda: _rss(pid) - baseline >= 160 * MIB, timeout=30, what="RSS +160 MiB")
    assert [h["kind"] for h in _active(hooks)] == ["memory-leak"]
    assert products_ok(lab)  # a leak, not an outage (yet)

    _revert(chaos, fault)
    assert _active(hooks) == []
    assert _rss(pid) - baseline < 48 * MIB
    assert runtime.status("target").pid == pid
    _revert(chaos, fault)  # twice is safe


def test_cpu_hog_slows_the_api_and_the_revert_brings_it_back(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime, hooks: httpx.Client
) -> None:
    pid = runtime.status("target").pid
    assert pid is not None
    process = psutil.Process(pid)
    _latencies(lab, 5)  # warm the pool and the cache
    baseline = statistics.median(_latencies(lab, 20))
    fault = _break(chaos, "api-cpu-hog", threads=3, duty=1.0)
    process.cpu_percent(None)
    hogged = statistics.median(_latencies(lab, 20))
    cpu = process.cpu_percent(None)
    figures = f"/products median {baseline * 1000:.1f} -> {hogged * 1000:.1f} ms, cpu {cpu:.0f}%"
    assert cpu >= 25, figures  # the GIL caps it near one core; the host is shared
    assert hogged >= 2 * baseline, figures

    _revert(chaos, fault)
    assert _active(hooks) == []
    after = statistics.median(_latencies(lab, 20))
    idle_cpu = process.cpu_percent(interval=1.0)
    figures += f"; after revert {after * 1000:.1f} ms, idle cpu {idle_cpu:.0f}%"
    assert after < hogged / 2, figures
    assert idle_cpu < 30, figures  # no busy thread left
    assert runtime.status("target").pid == pid


def test_error_storm_fails_about_its_ratio_until_reverted(
    chaos: TestClient, lab: BackgroundLab, hooks: httpx.Client
) -> None:
    fault = _break(chaos, "api-error-storm", ratio=0.5)
    responses = [httpx.get(target_url(lab, "/products/1"), timeout=10) for _ in range(60)]
    failed = [r for r in responses if r.status_code == 500]
    # Binomial(60, 0.5): 0.25..0.75 is nearly four standard deviations either side.
    assert 0.25 <= len(failed) / 60 <= 0.75, len(failed)
    assert {r.status_code for r in responses} == {200, 500}
    assert {r.json()["code"] for r in failed} == {"catalogue_state_corrupted"}
    assert httpx.get(target_url(lab, "/ready"), timeout=10).status_code == 200
    metrics = httpx.get(target_url(lab, "/metrics"), timeout=10).text
    assert 'route="/products/{product_id}",status="500"' in metrics

    _revert(chaos, fault)
    assert _active(hooks) == []
    statuses = {
        httpx.get(target_url(lab, "/products/1"), timeout=10).status_code for _ in range(30)
    }
    assert statuses == {200}


def test_latency_puts_p99_over_1_5_s_while_health_stays_fast(
    chaos: TestClient, lab: BackgroundLab, hooks: httpx.Client
) -> None:
    fault = _break(chaos, "api-latency")  # the defaults: 2000 ms ± 200 ms
    slow = _latencies(lab, 16, workers=8)
    begin = time.perf_counter()
    assert httpx.get(target_url(lab, "/healthz"), timeout=10).status_code == 200
    health_s = time.perf_counter() - begin
    figures = f"p99 {_p99(slow):.2f} s, /healthz {health_s * 1000:.0f} ms"
    assert _p99(slow) > 1.5, figures
    assert health_s < 1.0, figures

    _revert(chaos, fault)
    assert _active(hooks) == []
    assert _p99(_latencies(lab, 10)) < 1.0


def test_a_restart_by_someone_else_makes_the_revert_a_no_op(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime, hooks: httpx.Client
) -> None:
    before = runtime.status("target").pid
    fault = _break(chaos, "api-error-storm", ratio=1.0)
    assert httpx.get(target_url(lab, "/products"), timeout=10).status_code == 500

    runtime.restart("target")  # the correct response: in-process state does not survive it
    wait_for(lambda: runtime.status("target").health == "healthy", timeout=60, what="healthy")
    fresh = runtime.status("target").pid
    assert fresh is not None and fresh != before
    wait_for(lambda: products_ok(lab), what="products served")
    assert _active(hooks) == []
    # A hook of the same kind and key in the new process: the revert must leave it alone.
    key = str(chaos.get(f"/faults/{fault}").json()["revert_data"]["fault_key"])
    assert hooks.post("/_faults/error-storm", json={"fault_key": key, "ratio": 0.01}).is_success

    _revert(chaos, fault)
    assert [h["fault_key"] for h in _active(hooks)] == [key]
    assert runtime.status("target").pid == fresh
    assert hooks.delete(f"/_faults/error-storm/{key}").status_code == 200


def test_a_hook_already_gone_reverts_cleanly(chaos: TestClient, hooks: httpx.Client) -> None:
    fault = _break(chaos, "api-latency", delay_ms=10, jitter_ms=0)
    key = str(chaos.get(f"/faults/{fault}").json()["revert_data"]["fault_key"])
    assert hooks.delete(f"/_faults/latency/{key}").status_code == 200  # removed by hand
    _revert(chaos, fault)


def test_ttl_expiry_removes_the_hook(chaos: TestClient, hooks: httpx.Client) -> None:
    created = chaos.post(
        "/break/api-error-storm", json={"params": {"ratio": 0.1}, "ttl_s": 1}
    ).json()
    assert [h["kind"] for h in _active(hooks)] == ["error-storm"]
    wait_for(
        lambda: chaos.get(f"/faults/{created['id']}").json()["state"] == "reverted",
        timeout=15,
        what="expiry",
    )
    assert _active(hooks) == []


def test_hooks_refuse_a_missing_or_wrong_token(lab: BackgroundLab, hooks_token: str) -> None:
    assert HOOKS_HEADER == TARGET_HOOKS_HEADER
    for headers in ({}, {HOOKS_HEADER: "wrong"}):
        response = httpx.post(
            target_url(lab, "/_faults/error-storm"),
            json={"fault_key": "intruder", "ratio": 1.0},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 401
        assert response.json()["code"] == "fault_hooks_unauthorized"
    assert products_ok(lab)
    log = StatePaths.at(lab.state_dir).log("target")
    assert log.exists() and hooks_token not in log.read_text()


@pytest.mark.parametrize(
    ("fault", "params", "code"),
    [
        ("api-memory-leak", {"max_mb": 1024}, "intensity_over_max"),
        ("api-memory-leak", {"rate_mb_s": 0}, "invalid_params"),
        ("api-cpu-hog", {"threads": 5}, "intensity_over_max"),
        ("api-cpu-hog", {"duty": 2}, "invalid_params"),
        ("api-error-storm", {"ratio": 1.5}, "invalid_params"),
        ("api-latency", {"delay_ms": 20_000}, "intensity_over_max"),
        ("api-latency", {"surprise": True}, "invalid_params"),
    ],
)
def test_bad_params_are_422_and_inject_nothing(
    chaos: TestClient, hooks: httpx.Client, fault: str, params: dict[str, object], code: str
) -> None:
    response = chaos.post(f"/break/{fault}", json={"params": params})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert _active(hooks) == []


def test_a_stopped_target_is_refused(
    chaos: TestClient, lab: BackgroundLab, runtime: LocalRuntime
) -> None:
    runtime.stop("target")
    try:
        wait_for(lambda: runtime.status("target").pid is None, what="target stopped")
        response = chaos.post("/break/api-latency", json={})
        assert response.status_code == 409
        assert response.json()["code"] == "precondition_failed"
    finally:
        runtime.start("target")
        wait_for(lambda: runtime.status("target").health == "healthy", timeout=60, what="up")
    assert products_ok(lab)
