"""The pricing stub's routes: deterministic prices so tests and the lab can predict them."""

import hashlib

from fastapi import FastAPI

CURRENCY = "EUR"


def price_cents(sku: str) -> int:
    """A stable price between 1.00 and 100.99 derived from the SKU."""
    digest = hashlib.sha256(sku.encode()).digest()
    return 100 + int.from_bytes(digest[:4], "big") % 10_000


def create_app(name: str) -> FastAPI:
    """The stub app; `name` is reported as the `source` of every price."""
    app = FastAPI(title=f"Breakfix pricing stub ({name})")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The stub is up."""
        return {"status": "ok", "name": name}

    @app.get("/prices/{sku}")
    def get_price(sku: str) -> dict[str, str | int]:
        """The price of `sku`."""
        return {"sku": sku, "price_cents": price_cents(sku), "currency": CURRENCY, "source": name}

    return app
