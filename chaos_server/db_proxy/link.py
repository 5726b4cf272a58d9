"""One proxied connection: a client socket, its upstream socket, and the toxics that hit it."""

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass

from chaos_server.db_proxy.toxics import (
    BandwidthToxic,
    LatencyToxic,
    ResetPeerToxic,
    Stream,
    TimeoutToxic,
    Toxic,
    stream_of,
)

_CHUNK = 64 * 1024
_QUEUE_DEPTH = 32  # chunks read ahead while a toxic holds the writer back


@dataclass
class LaneStats:
    """What a lane has carried so far."""

    active: int = 0
    accepted: int = 0
    failed_upstream: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    bytes_dropped: int = 0
    resets: int = 0
    timeouts: int = 0


Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Link:
    """Pipes both directions through the toxics that hit it; toxicity is rolled once per
    toxic, when the link starts or when the toxic is added (open links are hit too)."""

    def __init__(self, *, client: Pair, upstream: Pair, stats: LaneStats) -> None:
        self._client, self._upstream, self._stats = client, upstream, stats
        self._hits: dict[str, Toxic] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self.closed = False

    def offer(self, toxic: Toxic) -> None:
        """Roll `toxic`'s toxicity for this link; a hit that ends links starts its timer."""
        if self.closed or toxic.name in self._hits or random.random() >= toxic.toxicity:
            return
        self._hits[toxic.name] = toxic
        if isinstance(toxic, ResetPeerToxic) or (
            isinstance(toxic, TimeoutToxic) and toxic.timeout_ms > 0
        ):
            self._timers[toxic.name] = asyncio.create_task(self._end_after(toxic))

    def withdraw(self, name: str) -> None:
        """The toxic is gone: data flows again, a pending reset or close is called off."""
        self._hits.pop(name, None)
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    async def run(self) -> None:
        """Pipe until both directions end, then close both sockets."""
        (client_r, client_w), (up_r, up_w) = self._client, self._upstream
        try:
            await asyncio.gather(
                self._pump(client_r, up_w, "upstream"), self._pump(up_r, client_w, "downstream")
            )
        finally:
            self._close(rst=False)

    async def _end_after(self, toxic: ResetPeerToxic | TimeoutToxic) -> None:
        await asyncio.sleep(toxic.timeout_ms / 1000)
        if toxic.name not in self._hits or self.closed:
            return
        if isinstance(toxic, ResetPeerToxic):
            self._stats.resets += 1
        else:
            self._stats.timeouts += 1
        self._close(rst=isinstance(toxic, ResetPeerToxic))

    def _close(self, *, rst: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for timer in self._timers.values():
            if timer is not asyncio.current_task():
                timer.cancel()
        self._timers.clear()
        for _, writer in (self._client, self._upstream):
            if rst:
                _abort_with_rst(writer)
            else:
                writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: Stream
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_DEPTH)
        loop = asyncio.get_running_loop()

        async def read() -> None:
            # Read ahead with arrival times, so latency delays each chunk from its arrival
            # (as Toxiproxy does) instead of adding up over back-to-back chunks.
            try:
                while data := await reader.read(_CHUNK):
                    await queue.put((loop.time(), data))
            except OSError:
                pass
            finally:
                await queue.put(None)

        reading = asyncio.create_task(read())
        try:
            while (item := await queue.get()) is not None:
                await self._deliver(writer, stream, *item)
            if not self.closed and writer.can_write_eof():
                writer.write_eof()
        except OSError:
            self._close(rst=False)  # the peer is gone: end the other direction too
        finally:
            reading.cancel()

    async def _deliver(
        self, writer: asyncio.StreamWriter, stream: Stream, arrived: float, data: bytes
    ) -> None:
        toxics = [t for t in self._hits.values() if stream_of(t) == stream]
        if self.closed or any(isinstance(t, TimeoutToxic) for t in toxics):
            self._stats.bytes_dropped += len(data)
            return
        delay_ms = sum(
            max(0.0, t.latency_ms + random.uniform(-t.jitter_ms, t.jitter_ms))
            for t in toxics
            if isinstance(t, LatencyToxic)
        )
        wait = arrived + delay_ms / 1000 - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        rates = [t.rate_kb_s * 1024 for t in toxics if isinstance(t, BandwidthToxic)]
        step = max(1, min(rates) // 10) if rates else len(data)  # slices of 100 ms
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            if self.closed:
                self._stats.bytes_dropped += len(piece)
                continue
            writer.write(piece)
            await writer.drain()
            if stream == "upstream":
                self._stats.bytes_up += len(piece)
            else:
                self._stats.bytes_down += len(piece)
            if rates:
                await asyncio.sleep(len(piece) / min(rates))
