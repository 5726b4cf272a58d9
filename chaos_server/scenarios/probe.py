"""Probes of lab services: HTTP status and latency, and service health; loopback only."""

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from chaos_server.scenarios.model import Probe
from lab.config import LabSettings
from lab.services import endpoints
from lab.tls import client_tls

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw; `ok` when the status matched and it was fast enough."""

    url: str
    ok: bool
    status: int | None
    latency_ms: float
    detail: str


def lab_urls(lab: LabSettings) -> dict[str, str]:
    """Every lab service's address by name, as probes and health checks resolve them."""
    return {name: end.url for name, end in endpoints(lab).items()}


def resolve_url(service_urls: dict[str, str], probe: Probe) -> str:
    """The probe's URL from the lab's service address; only loopback HTTP services qualify."""
    base = service_urls.get(probe.service)
    if base is None or not base.startswith("http"):
        known = ", ".join(sorted(k for k, v in service_urls.items() if v.startswith("http")))
        raise ValueError(f"no HTTP service {probe.service!r} to probe; known: {known}")
    if urlsplit(base).hostname not in LOOPBACK:
        raise ValueError(f"{probe.service} is not on loopback ({base}): not probed")
    return f"{base.rstrip('/')}{probe.path}"


def run_probe(service_urls: dict[str, str], probe: Probe) -> ProbeResult:
    """One GET; a connection error or timeout is a failed probe, never an exception."""
    url = resolve_url(service_urls, probe)
    started = time.monotonic()
    try:
        response = httpx.get(url, timeout=probe.timeout_s, trust_env=False, verify=client_tls())
    except httpx.HTTPError as exc:
        took = (time.monotonic() - started) * 1000
        return ProbeResult(url, False, None, took, f"{type(exc).__name__}: {exc}")
    took = (time.monotonic() - started) * 1000
    problems = []
    if response.status_code != probe.expect_status:
        problems.append(f"status {response.status_code}, expected {probe.expect_status}")
    if probe.max_latency_ms is not None and took > probe.max_latency_ms:
        problems.append(f"{took:.0f} ms, over {probe.max_latency_ms:g} ms")
    detail = "; ".join(problems) or f"status {response.status_code} in {took:.0f} ms"
    return ProbeResult(url, not problems, response.status_code, took, detail)


def service_health(
    service_urls: dict[str, str], service: str, *, timeout_s: float = 1.0
) -> str | None:
    """None when `service` is healthy (HTTP: `/healthz` answers 200; else it accepts TCP)."""
    base = service_urls.get(service)
    if base is None:
        return f"no service {service!r}; known: {', '.join(sorted(service_urls))}"
    where = urlsplit(base)
    if where.hostname not in LOOPBACK or where.port is None:
        return f"{service} is not on a loopback port ({base}): not probed"
    if where.scheme.startswith("http"):
        try:
            response = httpx.get(
                f"{base.rstrip('/')}/healthz",
                timeout=timeout_s,
                trust_env=False,
                verify=client_tls(),
            )
        except httpx.HTTPError as exc:
            return f"{base}/healthz: {type(exc).__name__}"
        return None if response.status_code == 200 else f"{base}/healthz: {response.status_code}"
    try:
        with socket.create_connection((where.hostname, where.port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{base}: {exc.strerror or type(exc).__name__}"
