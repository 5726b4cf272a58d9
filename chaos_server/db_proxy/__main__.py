"""`python -m chaos_server.db_proxy`: run the proxy (DBPROXY_* variables)."""

import asyncio
import logging
import os
import sys

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
    lanes = [
        TcpProxy(listen=(host, _port("DBPROXY_LISTEN_PORT", "6433")), upstream=upstream),
        TcpProxy(listen=(host, _port("DBPROXY_FALLBACK_PORT", "6434")), upstream=upstream),
    ]

    async def run() -> None:
        for lane in lanes:
            await lane.start()
        await asyncio.gather(*(lane.serve_forever() for lane in lanes))

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
