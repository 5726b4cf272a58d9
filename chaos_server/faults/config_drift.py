"""config-drift: a bad value lands in the target's env file and the target is restarted."""

import time
from collections.abc import Callable
from typing import ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.envfile import read_env, write_env
from lab.tls import client_tls

# Keys `breakfix run` does not re-sync (breakfix.provision's managed keys), so a drift persists.
DRIFTS: dict[str, tuple[str, str]] = {
    # Below the setting's minimum: the target refuses to start, naming the variable.
    "pool-size": ("TARGET_DB_POOL_SIZE", "0"),
    # Accepted, but a zero byte budget refuses every cache write: /ready fails on the cache.
    "cache-budget": ("TARGET_CACHE_MAX_BYTES", "0"),
}
TARGET = "target"


class DriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["pool-size", "cache-budget"] = "pool-size"


def _settled(ctx: ChaosContext) -> bool:
    """The restarted target has exited or its HTTP server answers."""
    if ctx.runtime.status(TARGET).pid is None:
        return True
    try:
        return (
            httpx.get(f"{ctx.target_url}/healthz", timeout=2.0, verify=client_tls()).status_code
            == 200
        )
    except httpx.HTTPError:
        return False


def _wait(ctx: ChaosContext, done: Callable[[ChaosContext], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done(ctx):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _healthy(ctx: ChaosContext) -> bool:
    return ctx.runtime.status(TARGET).health == "healthy"


class ConfigDrift(Fault):
    """Set one key of the target's env to a bad value and restart the target.

    Only the key and the two values (none of them secret) are kept; the revert restores the
    key only while it still holds the drift value, so rollback-config's fix is kept.
    """

    id = "config-drift"
    fault_class = "config"
    description = "write a bad value into the target's env file and restart it"
    targets: ClassVar[tuple[str, ...]] = (TARGET,)
    params_model = DriftParams

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        assert isinstance(params, DriftParams)
        if not ctx.paths.target_env.is_file():
            raise FaultRefused(f"the target has no env file at {ctx.paths.target_env}")
        key, value = DRIFTS[params.kind]
        previous = read_env(ctx.paths.target_env).get(key)
        if previous == value:
            raise FaultRefused(f"{key} already holds the drift value {value}")
        return {"key": key, "value": value, "previous": previous}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, DriftParams)
        key, value = DRIFTS[params.kind]
        env = read_env(ctx.paths.target_env)
        if env.get(key) != value:
            env[key] = value
            write_env(ctx.paths.target_env, env)
        ctx.runtime.restart(TARGET)
        _wait(ctx, _settled, ctx.ready_timeout_s)
        return {}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        key, value = str(revert_data["key"]), str(revert_data["value"])
        previous = revert_data.get("previous")
        env = read_env(ctx.paths.target_env)
        if env.get(key) != value:
            return  # rolled back (or changed) by someone else: theirs is kept
        if previous is None:
            del env[key]
        else:
            env[key] = str(previous)
        write_env(ctx.paths.target_env, env)
        ctx.runtime.restart(TARGET)
        if not _wait(ctx, _healthy, ctx.ready_timeout_s):
            raise TimeoutError(f"target not healthy {ctx.ready_timeout_s:.0f}s after the revert")
