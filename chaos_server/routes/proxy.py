"""`GET /proxies`: db-proxy's lanes, stats and toxics, relayed from its admin API."""

from typing import Any

from fastapi import APIRouter, Depends

from chaos_server.auth import require_chaos_key
from chaos_server.db_proxy.client import ProxyAdminError
from chaos_server.deps import Parts
from chaos_server.errors import ChaosError
from chaos_server.faults.network import proxy_admin

router = APIRouter(dependencies=[Depends(require_chaos_key)])


class ProxyUnavailable(ChaosError):
    status_code, code = 502, "db_proxy_unavailable"


@router.get("/proxies")
def proxies(parts: Parts) -> dict[str, Any]:
    """Every db-proxy lane (listen, upstream, stats, toxics); 502 when db-proxy is down."""
    try:
        return proxy_admin(parts.ctx).proxies()
    except (ProxyAdminError, OSError, ValueError) as exc:
        raise ProxyUnavailable(f"db-proxy admin did not answer: {exc}") from None
