"""A typed Python client of the action server (used by the CLI and the agent)."""

import uuid
from datetime import datetime
from typing import Any

import httpx

from action_server.schemas import AuditOut, RunOut


class ActionClientError(Exception):
    """The server refused or failed a call: status, stable code, and what was wrong."""

    def __init__(self, status: int, code: str, detail: Any, retry_after: float | None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after


class ActionClient:
    """Calls the action server with one API key."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 180.0) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, trust_env=False, headers={"X-API-Key": api_key}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ActionClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text, "code": "http_error"}
            retry = response.headers.get("Retry-After")
            raise ActionClientError(
                response.status_code,
                body.get("code", "http_error"),
                body.get("detail"),
                float(retry) if retry else None,
            )
        return response.json()

    def actions(self) -> list[dict[str, Any]]:
        """The catalogue."""
        result: list[dict[str, Any]] = self._call("GET", "/actions")
        return result

    def act(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
        wait: bool = False,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> RunOut:
        """Run (or dry-run) an action; the run says whether it succeeded."""
        headers = {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        data = self._call(
            "POST",
            f"/action/{name}",
            json=params or {},
            headers=headers,
            params={"dry_run": str(dry_run).lower(), "wait": str(wait).lower()},
        )
        return RunOut.model_validate(data)

    def run(self, run_id: uuid.UUID | str) -> RunOut:
        """One recorded run."""
        return RunOut.model_validate(self._call("GET", f"/runs/{run_id}"))

    def undo(self, run_id: uuid.UUID | str) -> RunOut:
        """Revert a run."""
        return RunOut.model_validate(self._call("POST", f"/runs/{run_id}/undo"))

    def audit(
        self,
        *,
        key_id: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditOut]:
        """Audit rows, newest first (admin keys only)."""
        query: dict[str, Any] = {"limit": limit}
        for name, value in (("key_id", key_id), ("action", action), ("outcome", outcome)):
            if value:
                query[name] = value
        if since:
            query["since"] = since.isoformat()
        return [AuditOut.model_validate(row) for row in self._call("GET", "/audit", params=query)]
