"""A real HTTP webhook receiver on 127.0.0.1 (standing in for Slack and Discord, which are
not reachable here): it records every JSON body posted to it, by path."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab.ports import free_port


class WebhookReceiver:
    """Collects posted JSON bodies; `fail_paths` answer 500."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, list[Any]] = {}
        self.fail_paths: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                receiver.received.setdefault(self.path, []).append(body)
                self.send_response(500 if self.path in receiver.fail_paths else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
