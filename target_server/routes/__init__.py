"""The target's HTTP routes, one module per concept."""

from fastapi import APIRouter, Depends

from target_server.fault_hooks import routes as fault_hooks
from target_server.fault_hooks.gate import consult_fault_hooks
from target_server.routes import health, inventory, orders, pages, products

router = APIRouter()
router.include_router(health.router)
# Business routes pass the fault hooks' gate; health, metrics and /_faults never do.
for module in (pages, products, inventory, orders):
    router.include_router(module.router, dependencies=[Depends(consult_fault_hooks)])
router.include_router(fault_hooks.router)
