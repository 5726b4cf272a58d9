"""The user-visible SLO probe: real user journeys at a steady rate, from outside the lab.

A journey lists products, reads one with its price, places an order for it and cancels
the order. It fails when any step answers otherwise than a user expects, cannot connect or
times out, and counts as failed when it took longer than `slow_s` in all. The probe runs in
the game day's own process, independent of observability and of the agent.
"""

import threading
import time

import httpx

from gameday.outage import Journey
from lab.tls import client_tls

MAX_JOURNEYS = 200_000  # a bound on memory for very long game days


class JourneyProbe:
    """Journeys against the target every `interval_s`, kept in memory for the arithmetic."""

    def __init__(
        self, base_url: str, *, interval_s: float = 0.5, slow_s: float = 2.0, timeout_s: float = 3.0
    ) -> None:
        self.interval_s, self.slow_s = interval_s, slow_s
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout_s, trust_env=False, verify=client_tls()
        )
        self._journeys: list[Journey] = []
        self._uncancelled: list[int] = []  # orders whose cancel failed: cancelled later
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "JourneyProbe":
        """Begin probing in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="slo-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop probing (a journey under way is finished first) and close the client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
        self._cancel_leftovers()
        self._client.close()

    @property
    def uncancelled(self) -> list[int]:
        """Orders the probe placed and could not cancel yet."""
        return list(self._uncancelled)

    def journeys(self, since: float = 0.0, until: float = float("inf")) -> list[Journey]:
        """The journeys that started in [since, until]."""
        with self._lock:
            return [j for j in self._journeys if since <= j.started_at <= until]

    def last(self) -> Journey | None:
        """The latest journey, if any."""
        with self._lock:
            return self._journeys[-1] if self._journeys else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            journey = self.journey()
            self._cancel_leftovers()
            with self._lock:
                self._journeys.append(journey)
                if len(self._journeys) > MAX_JOURNEYS:
                    del self._journeys[: MAX_JOURNEYS // 10]
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def journey(self) -> Journey:
        """One journey, timed."""
        started, clock = time.time(), time.perf_counter()
        step = self._steps()
        took = time.perf_counter() - clock
        if step is None and took > self.slow_s:
            step = "slow"
        return Journey(started_at=started, latency_s=took, ok=step is None, failed_step=step)

    def _cancel_leftovers(self) -> None:
        """Cancel the orders whose cancel failed before (outside any timed journey)."""
        for order_id in list(self._uncancelled):
            try:
                answer = self._client.post(f"/orders/{order_id}/cancel")
            except httpx.HTTPError:
                return
            if answer.status_code in (200, 404, 409):  # cancelled now, gone, or cancelled before
                self._uncancelled.remove(order_id)

    def _steps(self) -> str | None:
        """The first step that failed, or None."""
        try:
            listed = self._client.get("/products", params={"limit": 5})
            if listed.status_code != 200 or not listed.json():
                return f"list products: {listed.status_code}"
            product = int(listed.json()[0]["id"])
            read = self._client.get(f"/products/{product}")
            if read.status_code != 200:
                return f"read product: {read.status_code}"
            price = self._client.get(f"/products/{product}/price")
            if price.status_code != 200:
                return f"read price: {price.status_code}"
            items = [{"product_id": product, "quantity": 1}]
            order = self._client.post("/orders", json={"items": items})
            if order.status_code != 201:
                return f"place order: {order.status_code}"
            order_id = int(order.json()["id"])
            try:
                cancel = self._client.post(f"/orders/{order_id}/cancel")
            except httpx.HTTPError:
                self._uncancelled.append(order_id)
                raise
            if cancel.status_code != 200:
                self._uncancelled.append(order_id)
                return f"cancel order: {cancel.status_code}"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        except (ValueError, KeyError, IndexError, TypeError):
            return "unexpected body"
        return None
