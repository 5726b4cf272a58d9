"""One lane of db-proxy: an asyncio TCP proxy to the upstream (target-db) with its toxics."""

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from chaos_server.db_proxy.link import LaneStats, Link
from chaos_server.db_proxy.toxics import Toxic

log = logging.getLogger("db_proxy")


class ToxicConflict(Exception):
    """A toxic of that name exists with another definition."""


class TcpProxy:
    """Listens on `listen`, forwards each connection to `upstream` through the lane's toxics."""

    def __init__(self, *, name: str, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.name, self.listen, self.upstream = name, listen, upstream
        self.stats = LaneStats()
        self.toxics: dict[str, Toxic] = {}
        self._links: set[Link] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        log.info("lane %s on %s:%d -> %s:%d", self.name, *self.listen, *self.upstream)

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def add_toxic(self, toxic: Toxic) -> bool:
        """Add `toxic` to the lane and its open links; False if that same toxic is there."""
        existing = self.toxics.get(toxic.name)
        if existing == toxic:
            return False
        if existing is not None:
            raise ToxicConflict(f"toxic {toxic.name!r} exists on {self.name} with other values")
        self.toxics[toxic.name] = toxic
        for link in list(self._links):
            link.offer(toxic)
        log.info("lane %s: toxic added %s", self.name, toxic.model_dump())
        return True

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic from the lane and every open link; KeyError if there is none."""
        del self.toxics[name]
        for link in list(self._links):
            link.withdraw(name)
        log.info("lane %s: toxic removed %s", self.name, name)

    def snapshot(self) -> dict[str, Any]:
        """The lane as the admin API shows it."""
        return {
            "name": self.name,
            "listen": f"{self.listen[0]}:{self.listen[1]}",
            "upstream": f"{self.upstream[0]}:{self.upstream[1]}",
            "stats": asdict(self.stats),
            "toxics": [toxic.model_dump() for toxic in self.toxics.values()],
        }

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        try:
            upstream = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
        except (OSError, TimeoutError) as exc:
            self.stats.failed_upstream += 1
            log.warning("upstream %s:%d unreachable: %s", *self.upstream, exc)
            client_w.close()
            return
        link = Link(client=(client_r, client_w), upstream=upstream, stats=self.stats)
        self._links.add(link)
        self.stats.active += 1
        try:
            for toxic in list(self.toxics.values()):
                link.offer(toxic)
            await link.run()
        finally:
            self.stats.active -= 1
            self._links.discard(link)
