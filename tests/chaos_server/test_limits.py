"""Blast radius refusals (each stable code) and the chaos key."""

import pytest

from tests.support.asgi import TestClient
from tests.support.chaos_lab import ChaosFactory

pytestmark = pytest.mark.slow


def _refusal(chaos: TestClient, fault: str, body: dict[str, object]) -> tuple[int, str]:
    response = chaos.post(f"/break/{fault}", json=body)
    return response.status_code, response.json()["code"]


def test_each_refusal_has_its_status_and_code(chaos: TestClient) -> None:
    assert _refusal(chaos, "no-such-fault", {}) == (404, "unknown_fault")
    assert _refusal(chaos, "noop", {"target": "db-proxy"}) == (403, "target_not_allowed")
    assert _refusal(chaos, "noop", {"target": "action"}) == (403, "target_not_allowed")
    assert _refusal(chaos, "db-lock", {"target": "target"}) == (422, "invalid_target")
    assert _refusal(chaos, "noop", {"ttl_s": 601}) == (422, "ttl_over_max")
    assert _refusal(chaos, "noop", {"params": {"intensity": 1.5}}) == (422, "intensity_over_max")
    assert _refusal(chaos, "noop", {"params": {"bogus": 1}}) == (422, "invalid_params")
    assert _refusal(chaos, "noop", {"ttl_s": -1}) == (422, "validation_error")
    # Nothing refused was recorded.
    assert chaos.get("/faults", params={"state": "active"}).json() == []


def test_concurrency_limits(chaos: TestClient) -> None:
    assert chaos.post("/break/noop", json={"target": "target"}).status_code == 201
    assert _refusal(chaos, "noop", {"target": "target"}) == (409, "target_busy")
    assert chaos.post("/break/noop", json={"target": "target-db"}).status_code == 201
    assert chaos.post("/break/noop", json={"target": "upstream-primary"}).status_code == 201
    assert _refusal(chaos, "noop", {"target": "upstream-fallback"}) == (409, "too_many_faults")


def test_limits_are_configurable(make_chaos: ChaosFactory) -> None:
    chaos = make_chaos(max_per_target=2, max_intensity={"noop.intensity": 5.0})
    assert chaos.post("/break/noop", json={"params": {"intensity": 4}}).status_code == 201
    assert chaos.post("/break/noop", json={}).status_code == 201


def test_a_fault_on_a_stopped_target_is_refused(make_chaos: ChaosFactory) -> None:
    chaos = make_chaos(max_per_target=2)
    crashed = chaos.post("/break/api-crash", json={"target": "upstream-fallback"}).json()
    assert _refusal(chaos, "api-hang", {"target": "upstream-fallback"}) == (
        409,
        "precondition_failed",
    )
    assert chaos.delete(f"/faults/{crashed['id']}").json()["state"] == "reverted"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Chaos-Key": "wrong-key-wrong-key"}, {"Authorization": "Bearer nope"}],
)
def test_every_route_but_healthz_needs_the_key(chaos: TestClient, headers: dict[str, str]) -> None:
    bare = {"X-Chaos-Key": "", **headers}
    for method, path in [
        ("POST", "/break/noop"),
        ("GET", "/faults"),
        ("GET", "/faults/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/faults/00000000-0000-0000-0000-000000000000"),
        ("POST", "/kill"),
        ("POST", "/kill/release"),
        ("GET", "/kill"),
        ("GET", "/metrics"),
        ("GET", "/catalogue"),
    ]:
        response = chaos.request(method, path, headers=bare, json={} if method == "POST" else None)
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), path
    assert chaos.get("/healthz", headers=bare).status_code == 200
    assert chaos.get("/kill").json()["engaged"] is False


def test_bearer_key_and_metrics(chaos: TestClient) -> None:
    key = chaos.headers["X-Chaos-Key"]
    response = chaos.get("/metrics", headers={"X-Chaos-Key": "", "Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert "breakfix_chaos_injections_total" in response.text
