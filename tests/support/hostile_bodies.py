"""Request bodies that attack a server's HTTP boundary: sent in chunks, or nested deep."""

from collections.abc import Iterator

import httpx
from fastapi import FastAPI

from tests.support.asgi import ThreadedServer
from tests.support.ports import free_port

CHUNK = 64 * 1024
LARGE = 10 * 1024 * 1024  # the size reported on a running lab (issue 13, item 4)


class Chunks:
    """A JSON object of about `total` bytes in chunks; counts what the client really sent."""

    def __init__(self, total: int = LARGE) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self._count(b'{"pad": "')
        while self.sent < self.total:
            yield self._count(b"x" * min(CHUNK, self.total - self.sent))
        yield self._count(b'"}')

    def _count(self, chunk: bytes) -> bytes:
        self.sent += len(chunk)
        return chunk


def post_chunked(url: str, chunks: Chunks, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST `chunks` with Transfer-Encoding: chunked (an iterator body has no length)."""
    request = httpx.Request(
        "POST",
        url,
        content=iter(chunks),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    with httpx.Client(timeout=30) as client:
        return client.send(request)


def post_chunked_served(
    app: FastAPI, path: str, chunks: Chunks, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Serve `app` with uvicorn on a loopback port for one chunked POST to `path`."""
    port = free_port()
    server = ThreadedServer(app, port).start()
    try:
        return post_chunked(f"http://127.0.0.1:{port}{path}", chunks, headers)
    finally:
        server.stop()


def nested_json(levels: int = 30_000) -> bytes:
    """An array nested `levels` deep: small, and past any recursive parser's limit."""
    return b"[" * levels + b"]" * levels
