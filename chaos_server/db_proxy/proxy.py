"""An asyncio TCP proxy: every client connection is piped to the upstream (target-db)."""

import asyncio
import logging
from dataclasses import dataclass

log = logging.getLogger("db_proxy")
_CHUNK = 64 * 1024


@dataclass
class ProxyStats:
    """What the proxy has carried so far."""

    active: int = 0
    accepted: int = 0
    failed_upstream: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class TcpProxy:
    """Listens on `listen`, forwards each connection to `upstream`."""

    def __init__(self, *, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.listen, self.upstream = listen, upstream
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        log.info("db-proxy listening on %s:%d -> %s:%d", *self.listen, *self.upstream)

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        try:
            up_r, up_w = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
        except (OSError, TimeoutError) as exc:
            self.stats.failed_upstream += 1
            log.warning("upstream %s:%d unreachable: %s", *self.upstream, exc)
            client_w.close()
            return
        self.stats.active += 1
        try:
            await asyncio.gather(
                self._pipe(client_r, up_w, "up"), self._pipe(up_r, client_w, "down")
            )
        finally:
            self.stats.active -= 1
            for writer in (client_w, up_w):
                writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
                if direction == "up":
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
        except (ConnectionError, OSError):
            pass
        finally:
            if writer.can_write_eof():
                try:
                    writer.write_eof()
                except OSError:
                    pass
