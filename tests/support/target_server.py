"""The target server's test kit: app and settings factories, hosts-file and DNS stand-ins,
products made and removed by tests, and /metrics read as samples."""

import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from target_server.config import Settings
from tests.support.asgi import TestClient

PRIMARY_HOST = "pricing-primary.breakfix.lab"
FALLBACK_HOST = "pricing-fallback.breakfix.lab"

SettingsFactory = Callable[..., Settings]
AppFactory = Callable[..., FastAPI]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


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


def new_product(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"sku": f"T-{uuid.uuid4().hex[:10]}", "name": "Test product", "quantity": 5, **fields}
    response = client.post("/products", json=body)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics by name and labels (HELP and TYPE lines are not samples)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
