"""`python -m chaos_server.db_proxy`: run both lanes and the admin API (DBPROXY_* variables)."""

import asyncio
import logging
import os
import sys
from pathlib import Path

import uvicorn

from chaos_server.db_proxy.admin import create_admin_app
from chaos_server.db_proxy.proxy import TcpProxy


def _port(name: str, default: str) -> int:
    raw = os.environ.get(name, default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        sys.stderr.write(f"configuration error: {name}: not a port number\n")
        raise SystemExit(2)
    return int(raw)


def main() -> int:
    """Serve until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    host = os.environ.get("DBPROXY_HOST", "127.0.0.1")
    upstream = (
        os.environ.get("DBPROXY_UPSTREAM_HOST", "127.0.0.1"),
        _port("DBPROXY_UPSTREAM_PORT", "5433"),
    )
    lanes = {
        name: TcpProxy(name=name, listen=(host, _port(var, default)), upstream=upstream)
        for name, var, default in (
            ("primary", "DBPROXY_LISTEN_PORT", "6433"),
            ("fallback", "DBPROXY_FALLBACK_PORT", "6434"),
        )
    }
    token = os.environ.get("DBPROXY_ADMIN_TOKEN_FILE")
    admin = uvicorn.Server(
        uvicorn.Config(
            create_admin_app(lanes=lanes, token_file=Path(token) if token else None),
            host=host,
            port=_port("DBPROXY_ADMIN_PORT", "6435"),
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )

    async def run() -> None:
        for lane in lanes.values():
            await lane.start()
        # The admin server handles SIGTERM/SIGINT: it stops, then re-raises the signal.
        await asyncio.gather(admin.serve(), *(lane.serve_forever() for lane in lanes.values()))

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
