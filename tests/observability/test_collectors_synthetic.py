"""The synthetic transaction when a step fails: the order it placed is still cancelled.

The target here is an httpx MockTransport: the live lab cannot be made to fail exactly one
cancel on demand. The success path runs against the real target in test_collectors_lab.
"""

import json

import httpx

from observability.collectors.synthetic import SyntheticTransaction
from observability.model import Sample


class Shop:
    """Just enough of the target's API; `fail_cancels` answers the next cancels with 503."""

    def __init__(self, fail_cancels: int = 0, fail_order: bool = False) -> None:
        self.orders: dict[int, str] = {}
        self.fail_cancels, self.fail_order = fail_cancels, fail_order

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if method == "GET" and path == "/products":
            return httpx.Response(200, json=[{"id": 7}])
        if method == "GET" and path == "/inventory/7":
            return httpx.Response(200, json={"product_id": 7, "quantity": 3})
        if method == "GET" and path == "/products/7":
            return httpx.Response(200, json={"id": 7})
        if method == "POST" and path == "/orders":
            assert json.loads(request.content)["items"] == [{"product_id": 7, "quantity": 1}]
            if self.fail_order:
                return httpx.Response(500, json={"detail": "boom"})
            order_id = len(self.orders) + 1
            self.orders[order_id] = "placed"
            return httpx.Response(201, json={"id": order_id})
        if method == "POST" and path.endswith("/cancel"):
            order_id = int(path.split("/")[2])
            if self.fail_cancels:
                self.fail_cancels -= 1
                return httpx.Response(503, json={"detail": "unavailable"})
            if self.orders[order_id] != "placed":
                return httpx.Response(409, json={"detail": "already cancelled"})
            self.orders[order_id] = "cancelled"
            return httpx.Response(200, json={"id": order_id, "status": "cancelled"})
        if method == "GET" and path.startswith("/orders/"):
            order_id = int(path.split("/")[2])
            return httpx.Response(200, json={"id": order_id, "status": self.orders[order_id]})
        return httpx.Response(404)


def finished(
    synthetic: SyntheticTransaction,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    for _ in range(100):
        samples: list[Sample] = synthetic.collect(1.0).samples
        if any(s.metric == "synthetic_success" for s in samples):
            return {(s.metric, s.labels): s.value for s in samples}
    raise AssertionError("no transaction finished")


def test_a_failed_cancel_is_retried_until_the_order_is_cancelled() -> None:
    shop = Shop(fail_cancels=1)
    synthetic = SyntheticTransaction(base_url="http://target", transport=httpx.MockTransport(shop))
    first = finished(synthetic)
    assert first[("synthetic_success", ())] == 0
    assert first[("synthetic_step_success", (("step", "cancel"),))] == 0
    assert first[("synthetic_pending_cancels", ())] == 1
    assert synthetic.owed_cancels == [1]

    second = finished(synthetic)  # settles the owed cancel first, then a whole transaction
    assert second[("synthetic_success", ())] == 1
    assert synthetic.owed_cancels == []
    assert shop.orders == {1: "cancelled", 2: "cancelled"}
    synthetic.close()


def test_a_failed_order_step_is_reported_and_nothing_is_placed() -> None:
    shop = Shop(fail_order=True)
    synthetic = SyntheticTransaction(base_url="http://target", transport=httpx.MockTransport(shop))
    result = finished(synthetic)
    assert result[("synthetic_success", ())] == 0
    assert result[("synthetic_step_success", (("step", "read"),))] == 1
    assert result[("synthetic_step_success", (("step", "order"),))] == 0
    assert ("synthetic_step_success", (("step", "cancel"),)) not in result
    assert synthetic.last_error is not None and "500" in synthetic.last_error
    assert shop.orders == {}
    synthetic.close()
