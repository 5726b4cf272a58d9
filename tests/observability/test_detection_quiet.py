"""No fault, normal workload: the detector fires nothing (issue 5's quiet run).

Over two minutes of ordinary shop traffic from a load generator in the test (product lists
and reads, prices, orders placed and cancelled, ~15 requests a second, bounded in count and
time) on a steady live lab, with observability's pipeline ticking once a second with the
default rules, not one alert fires, not even one that resolves again.
"""

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.detection import STEADY_WITHIN_S, Watch

# `make test-deep`: the evaluations' noop case runs a quiet lab with observability and the agent
# too; this module
# isolates the detector alone and is kept out of `make test` for CI's time budget.
pytestmark = [pytest.mark.slow, pytest.mark.deep]

WORKLOAD_S = 125.0  # "at least two minutes"
RATE_PER_S = 15.0  # operations started per second (an order counts as two requests)
MAX_REQUESTS = int(WORKLOAD_S * RATE_PER_S * 2)


@dataclass
class Workload:
    """A paced mix of the shop's normal requests on its own thread; statuses are counted."""

    base_url: str
    seconds: float
    rate: float
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    def run(self) -> None:
        rng = random.Random(5)
        with httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False) as http:
            products = self._stocked(http)
            end = time.monotonic() + self.seconds
            next_at = time.monotonic()
            while time.monotonic() < end and self.requests < MAX_REQUESTS:
                product = rng.choice(products)
                pick = rng.random()
                try:
                    if pick < 0.3:
                        self._call(http, "GET", "/products", params={"limit": 20})
                    elif pick < 0.6:
                        self._call(http, "GET", f"/products/{product}")
                    elif pick < 0.8:
                        self._call(http, "GET", f"/products/{product}/price")
                    else:
                        self._order_and_cancel(http, product)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                next_at += 1.0 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _stocked(self, http: httpx.Client) -> list[int]:
        listed = http.get("/products", params={"limit": 20}).json()
        ids = [int(p["id"]) for p in listed]
        stocked = [i for i in ids if http.get(f"/inventory/{i}").json()["quantity"] >= 5]
        assert stocked, "no product with stock to order from"
        return stocked[:5]

    def _call(
        self,
        http: httpx.Client,
        method: str,
        path: str,
        *,
        params: dict[str, int] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        response = http.request(method, path, params=params, json=json)
        self.requests += 1
        self.statuses[f"{method} {path.split('/')[1]} {response.status_code}"] += 1
        return response

    def _order_and_cancel(self, http: httpx.Client, product: int) -> None:
        items = [{"product_id": product, "quantity": 1}]
        placed = self._call(http, "POST", "/orders", json={"items": items})
        if placed.status_code == 201:
            self._call(http, "POST", f"/orders/{placed.json()['id']}/cancel")


@pytest.mark.timeout(600)
def test_two_minutes_of_normal_workload_fire_nothing(watch: Watch) -> None:
    watch.wait_steady(STEADY_WITHIN_S, "before the workload")
    started = time.time()
    load = Workload(watch.target_url, WORKLOAD_S, RATE_PER_S)
    thread = threading.Thread(target=load.run, name="workload", daemon=True)
    thread.start()
    thread.join(WORKLOAD_S + 60)
    assert not thread.is_alive(), "the workload did not finish in time"

    fired = [
        f"{r['alertname']}/{r['service']} {r['status']} ({r['summary']})"
        for r in watch.records()
        if datetime.fromisoformat(r["startsAt"]).timestamp() >= started
    ]
    assert fired == [], f"alerts under the normal workload: {fired}"
    # The workload was real and normal: it ran the whole time, nothing failed, and
    # observability saw it in the target's own request rate.
    assert load.requests >= WORKLOAD_S * RATE_PER_S * 0.5, load.statuses
    assert not load.errors, load.errors[:5]
    assert all(not key.endswith(("500", "502", "503", "504")) for key in load.statuses), (
        load.statuses
    )
    seen = watch.pipeline.ring.series("http_request_rate", service="target", since=started)
    assert seen and max(p.value for p in seen) >= RATE_PER_S / 2, [p.value for p in seen]
    ticks = watch.pipeline.ring.series("synthetic_success", service="target", since=started)
    assert len(ticks) >= WORKLOAD_S * 0.5 and all(p.value == 1.0 for p in ticks)
