"""How a scenario reaches the chaos server: over HTTP (the CLI) or in-process (the scheduler)."""

import uuid
from typing import Any, Protocol

import httpx

from chaos_server.errors import ChaosError


class ChaosRefused(Exception):
    """The chaos server refused a request; `code` is its stable error code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class ChaosApi(Protocol):
    """The two calls a scenario makes."""

    def inject(
        self,
        fault: str,
        *,
        target: str | None,
        params: dict[str, Any],
        ttl_s: float | None,
        correlation_id: str,
    ) -> dict[str, Any]: ...

    def revert(
        self, fault: str, *, reason: str = "scenario", data: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...


class HttpChaosApi:
    """The chaos API with the chaos key, as any chaos client uses it."""

    def __init__(self, base_url: str, key: str, *, timeout_s: float = 120.0) -> None:
        self._client = httpx.Client(
            base_url=base_url, headers={"X-Chaos-Key": key}, timeout=timeout_s, trust_env=False
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._client.request(method, path, **kwargs)
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            code = body.get("code", "http_error") if isinstance(body, dict) else "http_error"
            detail = body.get("detail", response.text) if isinstance(body, dict) else response.text
            raise ChaosRefused(response.status_code, str(code), str(detail))
        assert isinstance(body, dict)
        return body

    def inject(
        self,
        fault: str,
        *,
        target: str | None,
        params: dict[str, Any],
        ttl_s: float | None,
        correlation_id: str,
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            f"/break/{fault}",
            json={"target": target, "params": params, "ttl_s": ttl_s},
            headers={"X-Correlation-ID": correlation_id},
        )

    def revert(
        self, fault: str, *, reason: str = "scenario", data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """DELETE the fault; over HTTP the server records the reason as `requested`."""
        return self._call("DELETE", f"/faults/{fault}")

    def close(self) -> None:
        self._client.close()


class InProcessChaosApi:
    """The same calls inside the chaos server (scheduled scenarios, the chaos monkey)."""

    def __init__(self, parts: Any) -> None:  # ChaosParts; Any keeps this module import-light
        self._parts = parts

    def inject(
        self,
        fault: str,
        *,
        target: str | None,
        params: dict[str, Any],
        ttl_s: float | None,
        correlation_id: str,
    ) -> dict[str, Any]:
        from chaos_server.injector import break_fault

        try:
            row = break_fault(
                parts=self._parts,
                fault_id=fault,
                target=target,
                params=params,
                ttl_s=ttl_s,
                correlation_id=correlation_id,
            )
        except ChaosError as exc:
            self._parts.metrics.refusals.labels(exc.code).inc()
            raise ChaosRefused(exc.status_code, exc.code, str(exc)) from None
        return {"id": str(row.id), "fault_id": row.fault_id, "target": row.target}

    def revert(
        self, fault: str, *, reason: str = "scenario", data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from chaos_server.reverter import revert_fault

        row = revert_fault(
            parts=self._parts, fault=uuid.UUID(fault), reason=reason, data=dict(data or {})
        )
        if row is None:
            raise ChaosRefused(404, "not_found", f"no fault {fault}")
        return {"id": str(row.id), "state": row.state, "error": row.error}
