"""Black-box health probes of every service: up (1/0) and latency, label probe=health.

HTTP services answer a GET (the target's `/ready`, the others' `/healthz`), db-proxy a TCP
connect, the Postgres clusters a superuser connect over their Unix socket, or, for the
target's database when the target's env file is known, a login as the app over TCP. Probes
run concurrently; one that has not answered by the deadline is down, whatever it does later.
"""

import math
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lab.envfile import read_env
from lab.postgres import SUPERUSER, Cluster
from lab.services import Endpoint
from lab.tls import client_tls
from observability.model import Collection, Sample

Check = Callable[[float], None]  # raises when the service is not healthy
PROBE_LABEL = (("probe", "health"),)


@dataclass(frozen=True)
class HealthProbe:
    """How to check one service: `check(timeout)` returns when healthy, raises otherwise."""

    service: str
    target: str
    check: Check


def http_check(url: str) -> Check:
    """Healthy when `url` answers 200."""

    def check(timeout: float) -> None:
        response = httpx.get(url, timeout=timeout, trust_env=False, verify=client_tls())
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")

    return check


def tcp_check(host: str, port: int) -> Check:
    """Healthy when host:port accepts a TCP connection."""

    def check(timeout: float) -> None:
        socket.create_connection((host, port), timeout=timeout).close()

    return check


def postgres_check(cluster: Cluster) -> Check:
    """Healthy when the cluster accepts a superuser connection on its socket."""

    def check(timeout: float) -> None:
        conn = psycopg2.connect(
            host=str(cluster.socket_dir),
            port=cluster.port,
            user=SUPERUSER,
            dbname="postgres",
            # libpq's minimum is 2 s; the probe's own deadline still applies.
            connect_timeout=max(2, math.ceil(timeout)),
            application_name="breakfix-observability",
        )
        conn.close()

    return check


def app_url(env_file: Path, variable: str = "TARGET_DATABASE_URL") -> URL | None:
    """The app's database URL from its env file, or None when it cannot be read."""
    try:
        raw = read_env(env_file).get(variable)
        return make_url(raw) if raw else None
    except (OSError, ValueError, ArgumentError):
        return None


def app_login_check(cluster: Cluster, env_file: Path) -> Check:
    """Healthy when the app's role logs in to the cluster over TCP with the credentials of
    the app's env file, read at every check (a rotated password is followed).

    The app's warm pool hides a changed password until it reconnects; this login does not.
    It goes to the cluster itself, not the app's route (db-proxy), so only the database and
    the credentials are judged. With no readable URL, the superuser socket check is used.
    """
    superuser = postgres_check(cluster)

    def check(timeout: float) -> None:
        url = app_url(env_file)
        if url is None or not url.username:
            superuser(timeout)
            return
        conn = psycopg2.connect(
            host=cluster.host,
            port=cluster.port,
            user=url.username,
            password=url.password or "",
            dbname=url.database or "postgres",
            connect_timeout=max(2, math.ceil(timeout)),
            application_name="breakfix-observability",
        )
        conn.close()

    return check


def lab_probes(
    endpoints: Mapping[str, Endpoint],
    clusters: Mapping[str, Cluster],
    *,
    app_env: Path | None = None,
) -> list[HealthProbe]:
    """A health probe for every endpoint the lab declares (target: `/ready`; target-db: the
    app's login when `app_env`, the target's env file, is given)."""
    probes = []
    for end in endpoints.values():
        if end.kind == "http":
            url = f"{end.url}/ready" if end.name == "target" else f"{end.url}/healthz"
            probes.append(HealthProbe(end.name, url, http_check(url)))
        elif end.kind == "tcp":
            probes.append(
                HealthProbe(end.name, f"{end.host}:{end.port}", tcp_check(end.host, end.port))
            )
        elif end.kind == "postgres" and end.name in clusters:
            cluster = clusters[end.name]
            if end.name == "target-db" and app_env is not None:
                where = f"{end.db_role}@{cluster.host}:{cluster.port}"
                probes.append(HealthProbe(end.name, where, app_login_check(cluster, app_env)))
            else:
                check = postgres_check(cluster)
                probes.append(HealthProbe(end.name, str(cluster.socket_dir), check))
    return probes


def _run(probe: HealthProbe, timeout: float, future: Future[float | str]) -> None:
    begin = time.perf_counter()
    try:
        probe.check(timeout)
        future.set_result(time.perf_counter() - begin)
    except Exception as exc:
        future.set_result(f"{type(exc).__name__}: {exc}")


class HealthProbeCollector:
    """probe_up and probe_latency_seconds for every probe, within `timeout_s` overall."""

    name = "probes"

    def __init__(self, probes: Sequence[HealthProbe], *, timeout_s: float = 0.7) -> None:
        self.probes = list(probes)
        self.timeout_s = timeout_s
        self.last_errors: dict[str, str] = {}

    def collect(self, now: float) -> Collection:
        """Probe every service concurrently; a probe past the deadline is down."""
        begin = time.monotonic()
        futures: list[Future[float | str]] = []
        for probe in self.probes:
            future: Future[float | str] = Future()
            threading.Thread(
                target=_run,
                args=(probe, self.timeout_s, future),
                name=f"probe-{probe.service}",
                daemon=True,
            ).start()
            futures.append(future)
        samples = []
        for probe, future in zip(self.probes, futures, strict=True):
            remaining = begin + self.timeout_s - time.monotonic()
            try:
                outcome = future.result(timeout=max(remaining, 0.0))
            except FutureTimeout:
                outcome = f"no answer in {self.timeout_s:.2f}s"
            if isinstance(outcome, str):
                self.last_errors[probe.service] = outcome
                up, latency = 0.0, max(time.monotonic() - begin, 0.0)
            else:
                self.last_errors.pop(probe.service, None)
                up, latency = 1.0, outcome
            samples.append(Sample(now, probe.service, "probe_up", up, PROBE_LABEL))
            samples.append(
                Sample(now, probe.service, "probe_latency_seconds", latency, PROBE_LABEL)
            )
        return Collection(samples=samples)
