"""A loopback HTTP server on its own thread, for the stand-ins tests serve (receivers,
stubs of hosted services)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab.ports import free_port


class Quiet(BaseHTTPRequestHandler):
    """A request handler that does not log each request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port unless one is given), serving in a
    daemon thread from construction until `close`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int | None = None) -> None:
        self.http = ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
        self.port = int(self.http.server_address[1])
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
