"""Health probes the supervisor and the CLI run against a service."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from lab.postgres import Cluster
from lab.tls import client_tls

HealthCheck = Callable[[], Awaitable[bool]]


def http_check(url: str, *, timeout: float = 2.0) -> HealthCheck:
    """Healthy when `url` answers 200."""

    async def check() -> bool:
        try:
            async with httpx.AsyncClient(
                timeout=timeout, trust_env=False, verify=client_tls()
            ) as client:
                response = await client.get(url)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


def tcp_check(host: str, port: int, *, timeout: float = 1.0) -> HealthCheck:
    """Healthy when host:port accepts a TCP connection."""

    async def check() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    return check


def postgres_check(cluster: Cluster) -> HealthCheck:
    """Healthy when the cluster accepts a superuser connection on its socket."""

    async def check() -> bool:
        return await asyncio.to_thread(cluster.is_ready)

    return check
