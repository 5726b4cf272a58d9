"""Building and rendering `breakfix status`."""

from typing import Any

from rich.console import Console
from rich.table import Table

from lab.config import LabSettings
from lab.errors import SupervisorNotRunningError
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import APP_PASSWORD, OPS_PASSWORD, endpoints

_PASSWORD_FILES = {"target-db": APP_PASSWORD, "ops-db": OPS_PASSWORD}


def collect_status(settings: LabSettings, *, show_secrets: bool) -> dict[str, Any]:
    """`{"services": {name: {pid, port, url, health, uptime_s[, dsn]}}}`, stable for scripts."""
    paths = StatePaths.at(settings.state_dir)
    live = {}
    try:
        runtime = LocalRuntime.from_state_dir(paths)
    except SupervisorNotRunningError:
        pass  # not running: every service is reported stopped
    else:
        try:
            live = {s.name: s for s in runtime.list()}
        finally:
            runtime.close()
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
    return {"services": services}


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
