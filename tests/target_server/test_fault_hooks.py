"""The target's fault hooks: token-gated, idempotent, and each hook's symptom is real."""

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from target_server.fault_hooks.auth import HOOKS_HEADER
from tests.support.asgi import TestClient
from tests.support.target_server import AppFactory, scrape, value

MIB = 2**20


@pytest.fixture
def hooked(make_app: AppFactory, token: tuple[Path, str]) -> Iterator[TestClient]:
    """A client on an app with hooks enabled, sending the right token on every call."""
    app = make_app(fault_hooks_token_file=token[0])
    with TestClient(app, headers={HOOKS_HEADER: token[1]}) as client:
        yield client


def _add(client: TestClient, kind: str, **body: object) -> dict[str, object]:
    response = client.post(f"/_faults/{kind}", json={"fault_key": f"k-{kind}", **body})
    assert response.status_code in (200, 201), response.text
    result: dict[str, object] = response.json()
    return result


def _hook_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_hooks_are_disabled_without_a_token_file(make_app: AppFactory, tmp_path: Path) -> None:
    blank = tmp_path / "blank.token"
    blank.write_text("\n")
    for token_file in (None, blank, tmp_path / "missing.token"):
        with TestClient(make_app(fault_hooks_token_file=token_file)) as client:
            response = client.get("/_faults", headers={HOOKS_HEADER: ""})
            assert response.status_code == 404, token_file
            assert response.json()["code"] == "fault_hooks_disabled"


def test_a_missing_or_wrong_token_is_401_and_never_logged(
    make_app: AppFactory, token: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(make_app(fault_hooks_token_file=token[0])) as client:
        for headers in ({}, {HOOKS_HEADER: "wrong"}, {HOOKS_HEADER: token[1] + "x"}):
            for method, path in (("GET", "/_faults"), ("POST", "/_faults/latency")):
                response = client.request(method, path, headers=headers, json={"fault_key": "a"})
                assert response.status_code == 401, (headers, path)
                assert response.json()["code"] == "fault_hooks_unauthorized"
            assert client.delete("/_faults/latency/a", headers=headers).status_code == 401
        # Nothing was started by the refused POSTs.
        assert client.get("/_faults", headers={HOOKS_HEADER: token[1]}).json() == {"hooks": []}
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "request" in logged and token[1] not in logged


def test_hooks_are_not_in_the_openapi_schema_nor_the_business_metrics(
    hooked: TestClient,
) -> None:
    assert not any(p.startswith("/_faults") for p in hooked.get("/openapi.json").json()["paths"])
    _add(hooked, "latency", delay_ms=0, jitter_ms=0)
    hooked.get("/_faults")
    samples = scrape(hooked)
    routes = {dict(labels).get("route", "") for _, labels in samples}
    assert not any(route.startswith("/_faults") for route in routes)


def test_add_is_idempotent_per_key_listed_with_params_and_removed_once(
    hooked: TestClient,
) -> None:
    first = hooked.post("/_faults/latency", json={"fault_key": "f1", "delay_ms": 5})
    assert first.status_code == 201
    again = hooked.post("/_faults/latency", json={"fault_key": "f1", "delay_ms": 5})
    assert again.status_code == 200 and again.json() == first.json()
    listed = hooked.get("/_faults").json()["hooks"]
    assert [(h["kind"], h["fault_key"], h["params"]) for h in listed] == [
        ("latency", "f1", {"delay_ms": 5, "jitter_ms": 200})
    ]
    assert hooked.delete("/_faults/latency/f1").status_code == 200
    gone = hooked.delete("/_faults/latency/f1")
    assert gone.status_code == 404 and gone.json()["code"] == "fault_hook_not_found"
    # A key is scoped by its kind: the same key of another kind is not this hook.
    assert hooked.delete("/_faults/error-storm/f1").status_code == 404
    assert hooked.get("/_faults").json() == {"hooks": []}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("memory-leak", {"fault_key": "a", "max_mb": 100_000}),
        ("memory-leak", {"fault_key": "a", "rate_mb_s": 0}),
        ("cpu-hog", {"fault_key": "a", "threads": 0}),
        ("cpu-hog", {"fault_key": "a", "duty": 1.5}),
        ("error-storm", {"fault_key": "a", "ratio": 2}),
        ("latency", {"fault_key": "a", "delay_ms": -1}),
        ("latency", {"fault_key": "a", "surprise": 1}),
        ("latency", {"fault_key": "not a key!"}),
        ("latency", {}),
        ("no-such-kind", {"fault_key": "a"}),
    ],
)
def test_bad_bodies_are_422_and_start_nothing(
    hooked: TestClient, kind: str, body: dict[str, object]
) -> None:
    response = hooked.post(f"/_faults/{kind}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert hooked.get("/_faults").json() == {"hooks": []}


def test_malformed_json_is_422(hooked: TestClient) -> None:
    response = hooked.post("/_faults/latency", content=b"{not json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_error_storm_fails_business_routes_only_and_shows_in_metrics(
    hooked: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _add(hooked, "error-storm", ratio=1.0)
    before = scrape(hooked)
    for path in ("/products", "/products/1", "/inventory/1", "/orders/1", "/"):
        response = hooked.get(path)
        assert response.status_code == 500, path
        assert response.json()["code"] == "catalogue_state_corrupted"
    for path in ("/healthz", "/metrics", "/_faults"):
        assert hooked.get(path).status_code == 200, path
    after = scrape(hooked)
    key = {"method": "GET", "route": "/products", "status": "500"}
    assert (
        value(after, "breakfix_http_requests_total", **key)
        - value(before, "breakfix_http_requests_total", **key)
        == 1
    )
    assert any("catalogue index inconsistent" in r.getMessage() for r in caplog.records)

    assert hooked.delete("/_faults/error-storm/k-error-storm").status_code == 200
    assert hooked.get("/products").status_code == 200


def test_error_storm_fails_about_its_ratio(hooked: TestClient) -> None:
    _add(hooked, "error-storm", ratio=0.5)
    statuses = [hooked.get("/products/1").status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    # Binomial(200, 0.5): 0.35..0.65 is more than four standard deviations either side.
    assert 0.35 <= statuses.count(500) / 200 <= 0.65


def test_latency_delays_business_routes_not_health(hooked: TestClient) -> None:
    _add(hooked, "latency", delay_ms=800, jitter_ms=100)
    begin = time.perf_counter()
    assert hooked.get("/products").status_code == 200
    assert time.perf_counter() - begin >= 0.7
    begin = time.perf_counter()
    assert hooked.get("/healthz").status_code == 200
    health_s = time.perf_counter() - begin
    assert health_s < 0.7, "/healthz must not carry the added latency"

    hooked.delete("/_faults/latency/k-latency")
    begin = time.perf_counter()
    assert hooked.get("/products").status_code == 200
    assert time.perf_counter() - begin < 0.7


def test_memory_leak_grows_rss_and_delete_gives_it_back(hooked: TestClient) -> None:
    process = psutil.Process()
    baseline = process.memory_info().rss
    _add(hooked, "memory-leak", rate_mb_s=256, max_mb=96)

    def held() -> int:
        hooks = hooked.get("/_faults").json()["hooks"]
        return int(hooks[0]["status"]["held_mb"])

    deadline = time.monotonic() + 20
    while held() < 96:
        assert time.monotonic() < deadline, "the leak did not reach max_mb"
        time.sleep(0.05)
    time.sleep(0.3)
    assert held() == 96  # capped
    assert process.memory_info().rss - baseline >= 80 * MIB

    assert hooked.delete("/_faults/memory-leak/k-memory-leak").status_code == 200
    # The chunks are unmapped, so the pages really go back to the OS.
    assert process.memory_info().rss - baseline < 32 * MIB


def test_cpu_hog_burns_cpu_and_delete_stops_its_threads(hooked: TestClient) -> None:
    process = psutil.Process()
    added = _add(hooked, "cpu-hog", threads=2, duty=1.0)
    assert added["status"] == {"threads_alive": 2}
    assert len(_hook_threads("fault-cpu-hog")) == 2
    cpu_before = sum(process.cpu_times()[:2])
    # The GIL lets about one busy thread run at a time: close to a core while they spin (on
    # a machine busy with other tests, less: so measured until 0.3 s of CPU, bounded).
    deadline = time.monotonic() + 10.0
    while sum(process.cpu_times()[:2]) - cpu_before < 0.3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sum(process.cpu_times()[:2]) - cpu_before >= 0.3

    assert hooked.delete("/_faults/cpu-hog/k-cpu-hog").json()["status"] == {"threads_alive": 0}
    assert _hook_threads("fault-cpu-hog") == []


def test_shutdown_stops_every_hook(make_app: AppFactory, token: tuple[Path, str]) -> None:
    app = make_app(fault_hooks_token_file=token[0])
    with TestClient(app, headers={HOOKS_HEADER: token[1]}) as client:
        _add(client, "cpu-hog", threads=1, duty=0.2)
        _add(client, "memory-leak", rate_mb_s=8, max_mb=4)
        assert _hook_threads("fault-")
    assert _hook_threads("fault-") == []
    assert app.state.runtime.fault_hooks.active() == []
