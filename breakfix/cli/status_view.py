"""Building and rendering `breakfix status`."""

from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from lab.config import LabSettings
from lab.errors import SupervisorNotRunningError
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.runtime.models import ServiceStatus
from lab.secrets import read_secret
from lab.services import APP_PASSWORD, OPS_PASSWORD, endpoints

_PASSWORD_FILES = {"target-db": APP_PASSWORD, "ops-db": OPS_PASSWORD}


def collect_status(
    settings: LabSettings,
    *,
    show_secrets: bool,
    runtime: Literal["local", "docker"] = "local",
    docker_project: str | None = None,
) -> dict[str, Any]:
    """`{"services": {name: {pid, port, url, health, uptime_s[, dsn]}}}`, stable for scripts.

    `docker`: the containers of the Compose project (extra ones, e.g. Prometheus, included).
    """
    paths = StatePaths.at(settings.state_dir)
    live = _live_docker(docker_project) if runtime == "docker" else _live_local(paths)
    services: dict[str, Any] = {}
    for name, end in endpoints(settings).items():
        current = live.get(name)
        entry: dict[str, Any] = {
            "pid": current.pid if current else None,
            "port": end.port,
            "url": end.url,
            "health": current.health if current else "stopped",
            "uptime_s": current.uptime_s if current else None,
        }
        if end.db_role is not None:
            password = None
            secret = paths.secret(_PASSWORD_FILES[name])
            if show_secrets and secret.exists():
                password = read_secret(secret)
            entry["dsn"] = end.dsn(password)
        services[name] = entry
    for name, current in live.items():
        if name not in services:
            services[name] = {
                "pid": current.pid,
                "port": current.port,
                "url": current.url,
                "health": current.health,
                "uptime_s": current.uptime_s,
            }
    return {"services": services}


def _live_local(paths: StatePaths) -> dict[str, ServiceStatus]:
    """What the local supervisor reports; nothing when it is not running."""
    try:
        runtime = LocalRuntime.from_state_dir(paths)
    except SupervisorNotRunningError:
        return {}  # not running: every service is reported stopped
    try:
        return {s.name: s for s in runtime.list()}
    finally:
        runtime.close()


def _live_docker(project: str | None) -> dict[str, ServiceStatus]:
    """The labelled containers of `project` (every project when None)."""
    from lab.runtime.docker import DockerRuntime

    runtime = DockerRuntime(project=project)
    try:
        return {s.name: s for s in runtime.list()}
    finally:
        runtime.close()


def render_status(report: dict[str, Any], console: Console) -> None:
    """A table for people."""
    table = Table(title="breakfix lab")
    for column in ("service", "health", "pid", "port", "uptime"):
        table.add_column(column)
    table.add_column("url", overflow="fold")
    colours = {"healthy": "green", "unhealthy": "yellow", "stopped": "red"}
    for name, entry in report["services"].items():
        uptime = entry["uptime_s"]
        table.add_row(
            name,
            f"[{colours[entry['health']]}]{entry['health']}[/]",
            str(entry["pid"] or "-"),
            str(entry["port"]),
            f"{uptime:.0f}s" if uptime is not None else "-",
            entry.get("dsn") or entry["url"],
        )
    console.print(table)
