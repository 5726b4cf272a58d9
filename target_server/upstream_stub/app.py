"""The pricing stub's routes: deterministic prices so tests and the lab can predict them."""

import hashlib
from pathlib import Path

from fastapi import FastAPI, Response

from lab.body_limit import BodyLimit
from target_server.upstream_stub.controls import Outages, control_router, outage_response

CURRENCY = "EUR"


def price_cents(sku: str) -> int:
    """A stable price between 1.00 and 100.99 derived from the SKU."""
    digest = hashlib.sha256(sku.encode()).digest()
    return 100 + int.from_bytes(digest[:4], "big") % 10_000


def create_app(name: str, control_token_file: Path | None = None) -> FastAPI:
    """The stub app; `name` is reported as the `source` of every price.

    With `control_token_file`, `/_control` takes outages from callers holding that token;
    during one, `/healthz` and `/prices` fail as a real outage would.
    """
    app = FastAPI(title=f"Breakfix pricing stub ({name})")
    outages = Outages()
    app.state.outages = outages
    app.add_middleware(BodyLimit)
    app.include_router(control_router(outages, control_token_file))

    @app.get("/healthz", response_model=None)
    async def healthz() -> dict[str, str] | Response:
        """The stub is up (unless an outage says otherwise)."""
        failed = await outage_response(outages)
        return failed or {"status": "ok", "name": name}

    @app.get("/prices/{sku}", response_model=None)
    async def get_price(sku: str) -> dict[str, str | int] | Response:
        """The price of `sku`."""
        failed = await outage_response(outages)
        if failed is not None:
            return failed
        return {"sku": sku, "price_cents": price_cents(sku), "currency": CURRENCY, "source": name}

    return app
