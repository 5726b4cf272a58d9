"""The registry of active hooks, consulted by every business request."""

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from target_server.fault_hooks.mechanisms import CpuHog, Mechanism, MemoryLeak
from target_server.fault_hooks.params import (
    CpuHogParams,
    ErrorStormParams,
    HookBody,
    HookKind,
    LatencyParams,
    MemoryLeakParams,
)


@dataclass
class Hook:
    """One active hook: its kind, its caller's key, its parameters and what runs for it."""

    kind: HookKind
    body: HookBody
    started_at: float = field(default_factory=time.time)
    mechanism: Mechanism | None = None

    def describe(self) -> dict[str, Any]:
        """The hook as `GET /_faults` shows it."""
        status = self.mechanism.status() if self.mechanism is not None else {}
        return {
            "kind": self.kind.value,
            "fault_key": self.body.fault_key,
            "params": self.body.model_dump(exclude={"fault_key"}),
            "started_at": self.started_at,
            "status": status,
        }


def _start(body: HookBody) -> Mechanism | None:
    if isinstance(body, MemoryLeakParams):
        return MemoryLeak(rate_mb_s=body.rate_mb_s, max_mb=body.max_mb)
    if isinstance(body, CpuHogParams):
        return CpuHog(threads=body.threads, duty=body.duty)
    return None  # request-path hooks: their parameters are the whole state


class FaultHooks:
    """Active hooks by (kind, key); thread-safe, since sync routes run on a thread pool."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._hooks: dict[tuple[HookKind, str], Hook] = {}
        self._lock = threading.Lock()
        self._rng = rng or random.Random()

    def add(self, kind: HookKind, body: HookBody) -> tuple[Hook, bool]:
        """Start a hook; a key already active is returned as it is (False: not created)."""
        with self._lock:
            existing = self._hooks.get((kind, body.fault_key))
            if existing is not None:
                return existing, False
            hook = Hook(kind=kind, body=body, mechanism=_start(body))
            self._hooks[(kind, body.fault_key)] = hook
            return hook, True

    def remove(self, kind: HookKind, fault_key: str) -> Hook | None:
        """Stop and forget a hook; None when it is not active here."""
        with self._lock:
            hook = self._hooks.pop((kind, fault_key), None)
        if hook is not None and hook.mechanism is not None:
            hook.mechanism.stop()
        return hook

    def active(self) -> list[Hook]:
        """Every active hook, oldest first."""
        with self._lock:
            return sorted(self._hooks.values(), key=lambda h: h.started_at)

    def close(self) -> None:
        """Stop every hook (app shutdown)."""
        for hook in self.active():
            self.remove(hook.kind, hook.body.fault_key)

    def added_latency_s(self) -> float:
        """The delay the latency hooks add to this request (their sum), in seconds."""
        total_ms = 0.0
        for body in self._bodies(HookKind.latency):
            if isinstance(body, LatencyParams):
                jitter = self._rng.uniform(-body.jitter_ms, body.jitter_ms)
                total_ms += max(0.0, body.delay_ms + jitter)
        return total_ms / 1000

    def poisoned(self) -> bool:
        """Whether this request hits the poisoned state of an error storm."""
        return any(
            self._rng.random() < body.ratio
            for body in self._bodies(HookKind.error_storm)
            if isinstance(body, ErrorStormParams)
        )

    def _bodies(self, kind: HookKind) -> list[HookBody]:
        if not self._hooks:  # the common case, read without the lock: no hook at all
            return []
        with self._lock:
            return [h.body for h in self._hooks.values() if h.kind == kind]
