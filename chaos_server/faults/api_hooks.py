"""In-process faults of the target through its `/_faults/*` hooks: leak, hog, errors, latency."""

import logging
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.tls import client_tls

log = logging.getLogger("chaos_server.faults")
HOOK_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
GONE_CODE = "fault_hook_not_found"  # the target's answer for a hook it does not hold


class HookCallFailed(Exception):
    """The target's fault hook answered something other than success."""


class MemoryLeakParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_mb_s: float = Field(16.0, gt=0, le=1024)
    max_mb: int = Field(256, ge=1, le=4096)


class CpuHogParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threads: int = Field(2, ge=1, le=16)
    duty: float = Field(1.0, gt=0, le=1.0)  # share of every 100 ms a thread spins


class ErrorStormParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ratio: float = Field(0.5, gt=0, le=1.0)


class LatencyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_ms: int = Field(2000, ge=0, le=60_000)
    jitter_ms: int = Field(200, ge=0, le=10_000)


def _call(ctx: ChaosContext, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One hook call; a 404 for an unknown hook is None, any other failure raises."""
    with httpx.Client(
        base_url=ctx.target_url,
        headers=ctx.hook_headers(),
        timeout=HOOK_TIMEOUT,
        verify=client_tls(),
    ) as client:
        response = client.request(method, path, json=body)
    if response.is_success:
        return response.json()
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    if response.status_code == 404 and code == GONE_CODE:
        return None
    raise HookCallFailed(f"{method} {path}: {response.status_code} {code or response.text[:200]}")


class _HookFault(Fault):
    """A hook inside the target's process: it lives and dies with that process.

    The revert deletes the hook only from the process that got it (same pid); a target
    restarted since (the correct response) has no hook left, and is not touched.
    """

    targets: ClassVar[tuple[str, ...]] = ("target",)
    kind: ClassVar[str]  # the hook's name under /_faults/

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        pid = ctx.runtime.status(target).pid
        if pid is None:
            raise FaultRefused(f"{target} is not running")
        try:
            ctx.hook_headers()
        except (OSError, ValueError):
            raise FaultRefused("no fault hooks token: the target's hooks are unusable") from None
        return {"service": target, "pid": pid, "kind": self.kind}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        path = f"/_faults/{self.kind}"
        try:
            hook = _call(ctx, "POST", path, {"fault_key": fault_key, **params.model_dump()})
        except Exception:
            # The POST may have landed before it failed (a timeout): take the hook back now,
            # since a failed injection's revert data does not name it.
            try:
                _call(ctx, "DELETE", f"{path}/{fault_key}")
            except Exception:
                log.warning("cleanup of %s hook %s failed", self.kind, fault_key, exc_info=True)
            raise
        # The process that holds the hook now; a restart since prepare() moved it there.
        return {"fault_key": fault_key, "pid": ctx.runtime.status(target).pid, "hook": hook}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        key = revert_data.get("fault_key")
        if key is None:
            return  # never acknowledged by the target: the failed inject cleaned up
        status = ctx.runtime.status(str(revert_data["service"]))
        if status.pid is None or status.pid != revert_data.get("pid"):
            return  # stopped or restarted: the hook died with its process
        _call(ctx, "DELETE", f"/_faults/{revert_data.get('kind', self.kind)}/{key}")


class ApiMemoryLeak(_HookFault):
    """The API allocates and holds memory at a set rate, up to a cap."""

    id = "api-memory-leak"
    fault_class = "compute"
    description = "the API allocates and holds memory at a set rate"
    kind = "memory-leak"
    params_model = MemoryLeakParams
    intensity: ClassVar[dict[str, float]] = {"max_mb": 512, "rate_mb_s": 128}


class ApiCpuHog(_HookFault):
    """Busy threads inside the API hold the GIL: CPU and p99 rise."""

    id = "api-cpu-hog"
    fault_class = "compute"
    description = "busy threads inside the API (CPU and p99 rise)"
    kind = "cpu-hog"
    params_model = CpuHogParams
    intensity: ClassVar[dict[str, float]] = {"threads": 4}


class ApiErrorStorm(_HookFault):
    """Poisoned in-memory state: a share of business requests fail with a 500."""

    id = "api-error-storm"
    fault_class = "api"
    description = "poisoned in-memory state: a share of requests fail with 500"
    kind = "error-storm"
    params_model = ErrorStormParams
    intensity: ClassVar[dict[str, float]] = {"ratio": 1.0}


class ApiLatency(_HookFault):
    """Added latency inside the API on business routes; /healthz and /ready stay fast."""

    id = "api-latency"
    fault_class = "api"
    description = "added latency inside the API (p99 above 1.5 s by default)"
    kind = "latency"
    params_model = LatencyParams
    intensity: ClassVar[dict[str, float]] = {"delay_ms": 10_000}
