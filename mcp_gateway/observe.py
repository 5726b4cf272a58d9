"""Observability's read-only HTTP API, as the gateway's read tools call it."""

from typing import Any

import httpx


class ObservabilityError(Exception):
    """Observability could not be read: the text says what the server or network said."""


class ObservabilityApi:
    """GETs on observability (alerts, snapshot, series, logs, evidence)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: Any) -> Any:
        """The JSON body of `GET path`; ObservabilityError with the upstream text otherwise."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = self._http.get(path, params=query)
        except httpx.HTTPError as exc:
            raise ObservabilityError(f"GET {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise ObservabilityError(
                f"GET {path}: HTTP {response.status_code}: {response.text[:500]}"
            )
        return response.json()
