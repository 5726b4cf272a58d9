"""Reading a Prometheus server's HTTP API: instant queries, targets and alerts."""

from typing import Any

import httpx


class PrometheusError(RuntimeError):
    """The API answered with an error (bad query, timeout); the message is Prometheus's."""


class PrometheusAPI:
    """A small client of /api/v1 on one Prometheus server."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.client = httpx.Client(base_url=url, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, **params: str) -> Any:
        response = self.client.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or a scalar as a one-item list) for `expr`, now."""
        data = self._get("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their health and last error."""
        active: list[dict[str, Any]] = self._get("targets")["activeTargets"]
        return active

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts."""
        alerts: list[dict[str, Any]] = self._get("alerts")["alerts"]
        return alerts
