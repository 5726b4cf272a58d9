"""Process faults through the runtime backend: kill the target, or freeze it."""

import time
from collections.abc import Callable
from typing import ClassVar

from pydantic import BaseModel

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.runtime.models import ServiceStatus

PROCESS_TARGETS = ("target", "upstream-primary", "upstream-fallback")


def _running(ctx: ChaosContext, target: str) -> ServiceStatus:
    status = ctx.runtime.status(target)
    if status.pid is None:
        raise FaultRefused(f"{target} is not running")
    return status


def _wait(
    ctx: ChaosContext, target: str, what: str, done: Callable[[ServiceStatus], bool], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not done(ctx.runtime.status(target)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{target} not {what} after {timeout:.0f}s")
        time.sleep(0.1)


def _stopped(status: ServiceStatus) -> bool:
    return status.pid is None


def _healthy(status: ServiceStatus) -> bool:
    return status.health == "healthy"


class _ProcessFault(Fault):
    """A fault on a running service's process: it must be running, and its pid is kept."""

    fault_class = "api"
    targets: ClassVar[tuple[str, ...]] = PROCESS_TARGETS

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        return {"service": target, "pid": _running(ctx, target).pid}


class ApiCrash(_ProcessFault):
    """SIGKILL the target's process; the revert starts it again if it is still down."""

    id = "api-crash"
    description = "kill the target API process (SIGKILL)"

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        status = ctx.runtime.status(target)
        if status.pid is not None:
            ctx.runtime.signal(target, "SIGKILL")
        _wait(ctx, target, "stopped", _stopped, timeout=10)
        return {"killed_pid": status.pid}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        target = str(revert_data["service"])
        # start() is a no-op for a running service: a restart by someone else is kept,
        # and there is never a second copy.
        if ctx.runtime.status(target).pid is None:
            ctx.runtime.start(target)
        _wait(ctx, target, "healthy", _healthy, timeout=ctx.ready_timeout_s)


class ApiHang(_ProcessFault):
    """SIGSTOP the target's process; the revert sends SIGCONT to that same process."""

    id = "api-hang"
    description = "freeze the target API (SIGSTOP)"

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        ctx.runtime.signal(target, "SIGSTOP")
        return {"stopped": True}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        target = str(revert_data["service"])
        # No wait here while it is frozen: the local runtime answers a SIGSTOPped service as
        # unhealthy without probing it (a probe would wait out its timeout, the kill with it).
        status = ctx.runtime.status(target)
        # A process restarted by someone else is not ours to touch; SIGCONT to a running
        # process changes nothing, so sending it twice is safe.
        if status.pid is not None and status.pid == revert_data.get("pid"):
            ctx.runtime.signal(target, "SIGCONT")
