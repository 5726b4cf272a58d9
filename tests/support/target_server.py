"""Test helpers: the test client, an in-thread uvicorn server and a DNS stand-in."""

import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.exceptions import StarletteDeprecationWarning

from target_server.config import Settings

# Starlette wants httpx2 for its TestClient and warns once on import when it finds httpx;
# the warning is about packaging, not behaviour, and would fail the run (warnings = errors).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "AppFactory",
    "SettingsFactory",
    "TestClient",
    "delete_product_with_orders",
    "ThreadedServer",
    "refuse_lookup",
    "write_hosts",
]

PRIMARY_HOST = "pricing-primary.breakfix.lab"
FALLBACK_HOST = "pricing-fallback.breakfix.lab"

SettingsFactory = Callable[..., Settings]
AppFactory = Callable[..., FastAPI]


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


def refuse_lookup(host: str, port: int) -> str:
    """Stand-in for the system resolver: every name is unknown, and no DNS query leaves."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def write_hosts(path: Path, entries: dict[str, str]) -> None:
    """Rewrite an /etc/hosts-style file with `name -> address` entries."""
    lines = ["# breakfix lab hosts", *(f"{addr} {name}" for name, addr in entries.items())]
    path.write_text("\n".join(lines) + "\n")


def delete_product_with_orders(engine: Engine, product_id: int) -> None:
    """Remove a product committed by a test, and every order that names it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM orders WHERE id IN "
                "(SELECT order_id FROM order_lines WHERE product_id = :p)"
            ),
            {"p": product_id},
        )
        conn.execute(text("DELETE FROM products WHERE id = :p"), {"p": product_id})
