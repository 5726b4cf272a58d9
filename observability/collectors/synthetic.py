"""The synthetic transaction against the target: read a product, place an order, cancel it.

The black-box SLI. Each transaction runs on its own thread with generous HTTP timeouts, so
an order placed by a slow target is still seen and cancelled; the collector waits for it
only `wait_s`, reports its result at the first tick after it ends, and reports failure
while one has run longer than `stuck_after_s`. An order whose cancel failed is retried by
every later transaction until the target confirms it cancelled: no order is left behind.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from observability.model import Collection, Sample

log = logging.getLogger(__name__)

SERVICE = "target"
STEPS = ("read", "order", "cancel")


@dataclass
class TransactionResult:
    """The outcome of one transaction: per-step latency and success, and the first error."""

    started: float
    steps: dict[str, tuple[float, bool]] = field(default_factory=dict)
    error: str | None = None
    total_s: float = 0.0

    @property
    def success(self) -> bool:
        return self.error is None and all(self.steps.get(s, (0.0, False))[1] for s in STEPS)


class StepFailed(Exception):
    """A step answered with an unexpected status."""


class SyntheticTransaction:
    """Collector: runs one transaction at a time, reports each one's steps once."""

    name = "synthetic"

    def __init__(
        self,
        *,
        base_url: str,
        wait_s: float = 0.5,
        stuck_after_s: float = 3.0,
        request_timeout_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.wait_s, self.stuck_after_s = wait_s, stuck_after_s
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(request_timeout_s, connect=min(request_timeout_s, 2.0)),
            trust_env=False,
            transport=transport,
        )
        self._product_id: int | None = None
        self._owed: list[int] = []  # orders placed whose cancel is not confirmed yet
        self._owed_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: TransactionResult | None = None
        self.last_error: str | None = None

    @property
    def owed_cancels(self) -> list[int]:
        with self._owed_lock:
            return list(self._owed)

    def close(self) -> None:
        self._client.close()

    def collect(self, now: float) -> Collection:
        """Start a transaction if none runs, wait briefly, report whatever has finished."""
        if self._thread is None:
            self._result = TransactionResult(started=time.monotonic())
            self._thread = threading.Thread(
                target=self._transaction, args=(self._result,), name="synthetic", daemon=True
            )
            self._thread.start()
        self._thread.join(self.wait_s)
        samples: list[Sample] = []
        result = self._result
        assert result is not None
        if not self._thread.is_alive():
            self._thread = None
            samples = self._samples(now, result)
        elif time.monotonic() - result.started > self.stuck_after_s:
            elapsed = time.monotonic() - result.started
            samples = [
                Sample(now, SERVICE, "synthetic_success", 0.0),
                Sample(now, SERVICE, "synthetic_latency_seconds", elapsed),
            ]
        samples.append(Sample(now, SERVICE, "synthetic_pending_cancels", len(self.owed_cancels)))
        return Collection(samples=samples)

    def _samples(self, now: float, result: TransactionResult) -> list[Sample]:
        self.last_error = result.error
        out = [
            Sample(now, SERVICE, "synthetic_success", 1.0 if result.success else 0.0),
            Sample(now, SERVICE, "synthetic_latency_seconds", result.total_s),
        ]
        for step, (latency, ok) in result.steps.items():
            labels = (("step", step),)
            out.append(Sample(now, SERVICE, "synthetic_step_latency_seconds", latency, labels))
            out.append(Sample(now, SERVICE, "synthetic_step_success", float(ok), labels))
        return out

    def _transaction(self, result: TransactionResult) -> None:
        headers = {"X-Correlation-ID": f"synthetic-{uuid.uuid4().hex[:16]}"}
        order_id: int | None = None
        try:
            self._settle_owed(headers)
            product_id = self._step(result, "read", lambda: self._read(headers))
            order_id = self._step(result, "order", lambda: self._order(product_id, headers))
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            # Cancel in finally: whatever failed after the order was placed, it goes back.
            if order_id is not None:
                oid = order_id
                try:
                    self._step(result, "cancel", lambda: self._cancel(oid, headers))
                except Exception as exc:
                    result.error = result.error or f"{type(exc).__name__}: {exc}"
                    with self._owed_lock:
                        self._owed.append(oid)
            result.total_s = time.monotonic() - result.started

    def _step(self, result: TransactionResult, step: str, call: Callable[[], int]) -> int:
        begin = time.monotonic()
        try:
            value = call()
        except Exception:
            result.steps[step] = (time.monotonic() - begin, False)
            raise
        result.steps[step] = (time.monotonic() - begin, True)
        return value

    def _read(self, headers: dict[str, str]) -> int:
        if self._product_id is None:
            self._product_id = self._pick_product(headers)
        response = self._client.get(f"/products/{self._product_id}", headers=headers)
        if response.status_code == 404:
            self._product_id = None
        _expect(response, 200)
        return int(response.json()["id"])

    def _pick_product(self, headers: dict[str, str]) -> int:
        """The first listed product with stock to spare (an order takes one unit back)."""
        response = self._client.get("/products", params={"limit": 20}, headers=headers)
        _expect(response, 200)
        for product in response.json():
            stock = self._client.get(f"/inventory/{product['id']}", headers=headers)
            if stock.status_code == 200 and int(stock.json()["quantity"]) >= 1:
                return int(product["id"])
        raise StepFailed("no product with stock among the first 20")

    def _order(self, product_id: int, headers: dict[str, str]) -> int:
        body = {"items": [{"product_id": product_id, "quantity": 1}]}
        response = self._client.post("/orders", json=body, headers=headers)
        if response.status_code in (404, 409):
            self._product_id = None  # gone or out of stock: choose another next time
        _expect(response, 201)
        return int(response.json()["id"])

    def _cancel(self, order_id: int, headers: dict[str, str]) -> int:
        response = self._client.post(f"/orders/{order_id}/cancel", headers=headers)
        if response.status_code == 409 and _already_cancelled(order_id, self._client, headers):
            return order_id
        _expect(response, 200)
        return order_id

    def _settle_owed(self, headers: dict[str, str]) -> None:
        """Retry the cancels an earlier transaction could not complete."""
        for order_id in self.owed_cancels:
            try:
                self._cancel(order_id, headers)
            except Exception as exc:
                log.warning("synthetic order %d still not cancelled: %s", order_id, exc)
                continue
            with self._owed_lock:
                self._owed.remove(order_id)


def _already_cancelled(order_id: int, client: httpx.Client, headers: dict[str, str]) -> bool:
    response = client.get(f"/orders/{order_id}", headers=headers)
    return response.status_code == 200 and response.json().get("status") == "cancelled"


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise StepFailed(
            f"{response.request.method} {response.request.url.path}: {response.status_code}"
        )
