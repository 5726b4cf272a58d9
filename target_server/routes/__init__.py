"""The target's HTTP routes, one module per concept."""

from fastapi import APIRouter

from target_server.routes import health, inventory, orders, pages, products

router = APIRouter()
for module in (health, pages, products, inventory, orders):
    router.include_router(module.router)
