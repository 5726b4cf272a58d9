"""db-down: target-db is stopped through the runtime backend; the app loses its database."""

from typing import ClassVar

from pydantic import BaseModel

from chaos_server.context import ChaosContext
from chaos_server.faults.base import RevertData
from chaos_server.faults.process import ApiCrash


class DbDown(ApiCrash):
    """A clean stop (the runtime's stop: fast shutdown) rather than a kill.

    The revert is api-crash's: start target-db only if it is still stopped (a restart-db
    by someone else is kept, never a second copy), then wait until it is healthy.
    """

    id = "db-down"
    fault_class = "db"
    description = "stop target-db: the target's readiness and every query fail"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        before = ctx.runtime.status(target).pid
        # stop() returns once the service has exited (forcefully after the stop timeout).
        if before is not None and ctx.runtime.stop(target).pid is not None:
            raise RuntimeError(f"{target} still running after stop")
        return {"stopped_pid": before}
