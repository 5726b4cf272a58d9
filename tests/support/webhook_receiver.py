"""Webhook receivers on loopback for tests (server threads): `Receiving` records bodies and
headers; `WebhookReceiver` (standing in for Slack and Discord, which are not reachable here)
records every JSON body posted to it, by path."""

import json
import threading
from typing import Any

from lab.ports import free_port
from tests.support.loopback import LoopbackServer, Quiet


class Receiving(LoopbackServer):
    """A webhook receiver: records bodies and headers; fails the first `fail_first` posts;
    holds each answer until `release` is set."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.attempts = 0
        self.release = threading.Event()
        self.release.set()
        outer = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.attempts += 1
                outer.release.wait(30)
                if outer.attempts <= outer.fail_first:
                    self.send_response(503)
                else:
                    outer.bodies.append(body)
                    outer.headers.append(dict(self.headers))
                    self.send_response(200)
                self.end_headers()

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def close(self) -> None:
        self.release.set()
        super().close()


class WebhookReceiver:
    """Collects posted JSON bodies; `fail_paths` answer 500."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, list[Any]] = {}
        self.fail_paths: set[str] = set()
        receiver = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.received.setdefault(self.path, []).append(body)
                self.send_response(500 if self.path in receiver.fail_paths else 204)
                self.end_headers()

        self.handler = Handler

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "WebhookReceiver":
        self.server = LoopbackServer(self.handler, self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
