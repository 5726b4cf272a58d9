"""Network faults through db-proxy's toxics: latency on the primary DB route, or a partition
of both routes. The toxics are named by the fault key; a restarted db-proxy has none."""

import contextlib
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chaos_server.context import ChaosContext
from chaos_server.db_proxy.client import ProxyAdmin, ProxyAdminError, ProxyUnreachable
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.secrets import read_secret

LANES = ("primary", "fallback")


def proxy_admin(ctx: ChaosContext) -> ProxyAdmin:
    """The lab's db-proxy admin API, with the victims' hooks token."""
    return ProxyAdmin(
        base_url=f"http://{ctx.lab.host}:{ctx.lab.db_proxy_admin_port}",
        token=read_secret(ctx.hooks_token_file),
    )


class LatencyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(600, ge=1, le=30_000)
    jitter_ms: int = Field(100, ge=0, le=10_000)


class PartitionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # blackhole: nothing the target sends reaches the DB; reset: connections get a TCP RST.
    mode: Literal["blackhole", "reset"] = "blackhole"
    # every connection, open ones included, is dropped this long after the toxic hits it
    timeout_ms: int = Field(2000, ge=0, le=30_000)

    @model_validator(mode="after")
    def _drops(self) -> "PartitionParams":
        # A blackhole that never closes would leave the target's queries waiting forever,
        # even after the revert: every connection must be dropped at some point.
        if self.mode == "blackhole" and self.timeout_ms < 100:
            raise ValueError("a blackhole needs timeout_ms >= 100 (connections are dropped)")
        return self


class _ToxicFault(Fault):
    """Adds one toxic per lane (all or nothing) and removes them on revert."""

    fault_class = "network"
    targets: ClassVar[tuple[str, ...]] = ("db-proxy",)
    lanes: ClassVar[tuple[str, ...]]

    def toxic(self, params: BaseModel, name: str) -> dict[str, Any]:
        """The toxic this fault adds to each of its lanes."""
        raise NotImplementedError

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        try:
            proxy_admin(ctx).proxies()
        except (ProxyAdminError, OSError, ValueError) as exc:
            raise FaultRefused(f"db-proxy admin is not usable: {exc}") from None
        return {"lanes": list(self.lanes), "prefix": f"{self.id}-"}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        admin, name = proxy_admin(ctx), f"{self.id}-{fault_key}"
        added: list[list[str]] = []
        try:
            for lane in self.lanes:
                admin.add_toxic(lane, self.toxic(params, name))
                added.append([lane, name])
        except BaseException:
            # The injector reverts with the intent's data only: take back what was added.
            for lane, added_name in added:
                with contextlib.suppress(ProxyAdminError):
                    admin.remove_toxic(lane, added_name)
            raise
        return {"toxics": added}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        admin = proxy_admin(ctx)
        try:
            toxics = revert_data.get("toxics")
            key = revert_data.get("fault_key")
            if toxics is None and key is not None:
                # Killed between adding the toxics and recording them: the intent has the
                # fault key, so the names are known exactly.
                toxics = [[lane, f"{self.id}-{key}"] for lane in revert_data.get("lanes", [])]
            elif toxics is None:
                # An intent written before fault keys were recorded: the name prefix only.
                toxics = _named_like(
                    admin, revert_data.get("lanes", []), revert_data.get("prefix", f"{self.id}-")
                )
            for lane, name in toxics:
                admin.remove_toxic(lane, name)  # already gone (someone removed it): fine
        except ProxyUnreachable:
            pass  # db-proxy is down: its toxics lived in that process and died with it


def _named_like(admin: ProxyAdmin, lanes: list[str], prefix: str) -> list[list[str]]:
    lanes_now = admin.proxies()
    return [
        [lane, toxic["name"]]
        for lane in lanes
        for toxic in lanes_now.get(lane, {}).get("toxics", [])
        if str(toxic.get("name", "")).startswith(prefix)
    ]


class NetDbLatency(_ToxicFault):
    """A latency toxic on the primary lane only: the fallback route stays fast."""

    id = "net-db-latency"
    description = "db-proxy adds latency (with jitter) on the target's primary DB route"
    params_model = LatencyParams
    intensity: ClassVar[dict[str, float]] = {"latency_ms": 5000}
    lanes = ("primary",)

    def toxic(self, params: BaseModel, name: str) -> dict[str, Any]:
        assert isinstance(params, LatencyParams)
        return {
            "name": name,
            "type": "latency",
            "stream": "downstream",
            "latency_ms": params.latency_ms,
            "jitter_ms": params.jitter_ms,
        }


class NetDbPartition(_ToxicFault):
    """A blackhole (or reset) toxic on both lanes: the target has no DB route left."""

    id = "net-db-partition"
    description = "db-proxy drops every connection on both DB routes (no route left)"
    params_model = PartitionParams
    lanes = LANES

    def toxic(self, params: BaseModel, name: str) -> dict[str, Any]:
        assert isinstance(params, PartitionParams)
        if params.mode == "reset":
            return {"name": name, "type": "reset_peer", "timeout_ms": params.timeout_ms}
        return {
            "name": name,
            "type": "timeout",
            "stream": "upstream",
            "timeout_ms": params.timeout_ms,
        }
