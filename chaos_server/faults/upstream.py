"""Upstream faults: the pricing stub's own outage switch, and the lab hosts file for DNS."""

import stat
from typing import ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.envfile import read_env
from lab.files import write_atomic
from lab.services import PRIMARY_HOST, endpoints
from lab.tls import client_tls
from target_server.config import Settings as TargetSettings

UPSTREAMS = ("upstream-primary", "upstream-fallback")
HTTP_TIMEOUT_S = 5.0
HANG_MARGIN_S = 10.0  # a timeout-mode call hangs this much longer than the target waits


class OutageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["error", "timeout"] = "error"  # 503 at once, or no answer in time


def _control_url(ctx: ChaosContext, service: str) -> str:
    return f"{endpoints(ctx.lab)[service].url}/_control"


def _pricing_timeout(ctx: ChaosContext) -> float:
    """How long the target waits for a price, as its env file (or its default) says."""
    raw = read_env(ctx.paths.target_env).get("TARGET_PRICING_TIMEOUT_S")
    default = TargetSettings.model_fields["pricing_timeout_s"].default
    try:
        return float(raw) if raw else float(default)
    except ValueError:
        return float(default)


def _client(ctx: ChaosContext) -> httpx.Client:
    return httpx.Client(
        headers=ctx.hook_headers(), timeout=HTTP_TIMEOUT_S, trust_env=False, verify=client_tls()
    )


class UpstreamOutage(Fault):
    """Ask the stub to fail its pricing calls; the revert ends that outage if it is still on.

    A stub restarted by someone else has no outage any more, and a switch-to-fallback is
    the target's env: neither is touched by the revert.
    """

    id = "upstream-outage"
    fault_class = "dependency"
    description = "the pricing service fails (503) or times out"
    targets: ClassVar[tuple[str, ...]] = UPSTREAMS
    params_model = OutageParams

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        try:
            with _client(ctx) as client:
                response = client.get(_control_url(ctx, target))
        except httpx.TransportError as exc:
            raise FaultRefused(f"{target} does not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise FaultRefused(f"{target} controls answered {response.status_code}")
        return {"service": target}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, OutageParams)
        body = {
            "mode": params.mode,
            "fault_key": fault_key,
            "delay_s": _pricing_timeout(ctx) + HANG_MARGIN_S,
        }
        with _client(ctx) as client:  # setting the same key again replaces it: idempotent
            client.post(f"{_control_url(ctx, target)}/outage", json=body).raise_for_status()
        return {"service": target, "fault_key": fault_key}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        service, key = str(revert_data["service"]), revert_data.get("fault_key")
        if key is None:
            return  # the injection never reached the stub
        try:
            with _client(ctx) as client:
                response = client.delete(f"{_control_url(ctx, service)}/outage/{key}")
        except httpx.ConnectError:
            return  # stopped: it comes back without the outage
        if response.status_code not in (204, 404):  # 404: restarted, the outage is gone
            response.raise_for_status()


def _maps(line: str, host: str) -> bool:
    """Whether a hosts-file line gives an address for `host`."""
    fields = line.split("#", 1)[0].split()
    return len(fields) >= 2 and host.lower() in (name.lower() for name in fields[1:])


class UpstreamDns(Fault):
    """Remove the primary pricing host's line from the lab hosts file the target resolves
    through; the revert puts the same line back where it was, unless the host has a line
    again by then (someone else's fix is kept, nothing is duplicated)."""

    id = "upstream-dns"
    fault_class = "network"
    description = "the primary pricing host stops resolving"
    targets: ClassVar[tuple[str, ...]] = ("upstream-primary",)

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        lines = ctx.paths.hosts_file.read_text().splitlines(keepends=True)
        removed = [[i, line] for i, line in enumerate(lines) if _maps(line, PRIMARY_HOST)]
        if not removed:
            raise FaultRefused(f"{PRIMARY_HOST} has no line in the hosts file already")
        return {"host": PRIMARY_HOST, "lines": removed}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        path = ctx.paths.hosts_file
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not _maps(line, PRIMARY_HOST)]
        if len(kept) != len(lines):  # already removed: change nothing
            write_atomic(path, "".join(kept), mode=stat.S_IMODE(path.stat().st_mode))
        return {}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        path = ctx.paths.hosts_file
        host = str(revert_data.get("host", PRIMARY_HOST))
        lines = path.read_text().splitlines(keepends=True)
        if any(_maps(line, host) for line in lines):
            return  # resolves again (put back by someone, or never removed)
        for index, line in sorted((int(i), str(text)) for i, text in revert_data["lines"]):
            at = min(index, len(lines))
            if at > 0 and not lines[at - 1].endswith("\n"):
                lines[at - 1] += "\n"
            lines.insert(at, line)
        write_atomic(path, "".join(lines), mode=stat.S_IMODE(path.stat().st_mode))
