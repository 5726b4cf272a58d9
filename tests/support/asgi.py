"""ASGI apps in tests: Starlette's test client and a real uvicorn server in a thread."""

import threading
import time
import warnings

import uvicorn
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

# Starlette wants httpx2 for its TestClient and warns once on import when it finds httpx;
# the warning is about packaging, not behaviour, and would fail the run (warnings = errors).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["TestClient", "ThreadedServer"]


class ThreadedServer:
    """A real uvicorn server for an ASGI app, on a loopback port, in a daemon thread."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
