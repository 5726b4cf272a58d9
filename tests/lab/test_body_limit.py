"""lab.body_limit and lab.json_depth, driven as ASGI: what is read, refused and handed on.

Each service's own tests send real chunked bodies over HTTP; here the receive channel is
counted, to show that a refused body is not read past its limit.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from lab.body_limit import BodyLimit
from lab.json_depth import nests_deeper_than

LIMIT = 1024


@dataclass
class Exchange:
    """One request through the middleware: what it pulled, what the app saw, the answer."""

    chunks: list[bytes]
    endless: bool = False
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    path: str = "/x"
    pulled: int = 0
    app_body: bytes | None = None
    sent: list[Message] = field(default_factory=list)

    async def receive(self) -> Message:
        index = self.pulled
        self.pulled += 1
        if self.endless:
            return {"type": "http.request", "body": b"x" * 512, "more_body": True}
        last = index >= len(self.chunks) - 1
        body = self.chunks[index] if index < len(self.chunks) else b""
        return {"type": "http.request", "body": body, "more_body": not last}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.app_body = message["body"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def run(self, **limits: Any) -> tuple[int, dict[str, Any]]:
        scope = {"type": "http", "method": "POST", "path": self.path, "headers": self.headers}
        asyncio.run(BodyLimit(self.app, max_bytes=LIMIT, **limits)(scope, self.receive, self.send))
        status = self.sent[0]["status"]
        body = b"".join(m.get("body", b"") for m in self.sent[1:])
        return status, json.loads(body) if body else {}


def test_an_endless_chunked_body_is_refused_at_its_limit() -> None:
    exchange = Exchange([], endless=True)
    status, body = exchange.run()
    assert status == 413 and body["code"] == "payload_too_large" and body["limit_bytes"] == LIMIT
    assert exchange.pulled == LIMIT // 512 + 1  # read up to the limit, and no further
    assert exchange.app_body is None


@pytest.mark.parametrize("declared", [b"1025", b"\xb2", b"-1", b"1e9"])
def test_a_declared_length_over_the_limit_or_unreadable_is_refused_unread(declared: bytes) -> None:
    exchange = Exchange([b"{}"], headers=[(b"content-length", declared)])
    assert exchange.run()[0] == 413
    assert exchange.pulled == 0


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    chunks = [b'{"a": "', b"y" * 900, b'"}']
    exchange = Exchange(chunks)
    assert exchange.run()[0] == 204
    assert exchange.app_body == b"".join(chunks)


def test_a_wider_limit_holds_for_its_prefix_only() -> None:
    big = [b"[" + b"1," * 1000 + b"1]"]
    assert Exchange(big, path="/webhook/x").run(wider={"/webhook/": 4096})[0] == 204
    assert Exchange(big, path="/other").run(wider={"/webhook/": 4096})[0] == 413


def test_json_nested_too_deep_is_refused_before_the_app() -> None:
    exchange = Exchange([b"[" * 100 + b"]" * 100])
    status, body = exchange.run(max_depth=64)
    assert status == 400 and body["code"] == "json_too_deep" and body["max_depth"] == 64
    assert exchange.app_body is None


def test_nesting_is_not_checked_in_a_body_that_is_not_json() -> None:
    headers = [(b"content-type", b"text/plain")]
    assert Exchange([b"[" * 100], headers=headers).run(max_depth=64)[0] == 204


@pytest.mark.parametrize(
    ("document", "deeper_than_2"),
    [
        ([[1]], False),
        ([[[1]]], True),
        ({"a": [{"b": 1}]}, True),
        ({"a": "[[[[{{{{"}, False),  # brackets in a string
        ({"a": '\\"[[[['}, False),  # an escaped backslash, then an escaped quote
        (["\\", [[1]]], True),  # a string ending in a backslash
        (["]]]]", [[1]]], True),  # closers in a string hide nothing
    ],
)
def test_nesting_depth(document: Any, deeper_than_2: bool) -> None:
    assert nests_deeper_than(json.dumps(document).encode(), 2) is deeper_than_2
