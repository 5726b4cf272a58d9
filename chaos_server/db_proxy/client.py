"""A client of db-proxy's admin API, for the network faults and the chaos server's /proxies."""

from typing import Any

import httpx

from lab.hooks_token import HOOKS_HEADER
from lab.tls import client_tls


class ProxyAdminError(Exception):
    """db-proxy answered with an error, or not at all."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class ProxyUnreachable(ProxyAdminError):
    """Nothing listens on the admin port: db-proxy is not running (so it holds no toxics)."""


class ProxyAdmin:
    """Calls to one db-proxy's admin API, authenticated with the fault-hooks token."""

    def __init__(self, *, base_url: str, token: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url
        self._headers = {HOOKS_HEADER: token}
        self._timeout = timeout_s

    def proxies(self) -> dict[str, Any]:
        """Every lane with its stats and toxics."""
        body: dict[str, Any] = self._call("GET", "/proxies").json()
        return body

    def add_toxic(self, lane: str, toxic: dict[str, Any]) -> None:
        """Add a toxic to a lane; the same toxic again changes nothing."""
        self._call("POST", f"/proxies/{lane}/toxics", json=toxic)

    def remove_toxic(self, lane: str, name: str) -> bool:
        """Remove a toxic; False when the lane has none of that name (already removed)."""
        try:
            self._call("DELETE", f"/proxies/{lane}/toxics/{name}")
        except ProxyAdminError as exc:
            if exc.code == "unknown_toxic":
                return False
            raise
        return True

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            with httpx.Client(
                timeout=self._timeout, trust_env=False, verify=client_tls()
            ) as client:
                response = client.request(
                    method, f"{self.base_url}{path}", json=json, headers=self._headers
                )
        except httpx.ConnectError as exc:
            raise ProxyUnreachable(f"db-proxy admin at {self.base_url} refused: {exc}") from None
        except httpx.HTTPError as exc:
            raise ProxyAdminError(f"db-proxy admin at {self.base_url}: {exc!r}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            code = body.get("code") if isinstance(body, dict) else None
            detail = body.get("detail") if isinstance(body, dict) else None
            raise ProxyAdminError(
                f"db-proxy {method} {path}: {response.status_code} {code}: {detail}",
                status=response.status_code,
                code=code,
            )
        return response
