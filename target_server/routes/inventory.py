"""Inventory routes."""

from fastapi import APIRouter

from target_server import inventory as service
from target_server.deps import IdPath, SessionDep
from target_server.schemas import InventoryOut, InventoryUpdate

router = APIRouter(prefix="/inventory", tags=["inventory"])


@router.get("/{product_id}", response_model=InventoryOut)
def get_inventory(product_id: IdPath, session: SessionDep) -> InventoryOut:
    """A product's stock level."""
    row = service.get_inventory(session=session, product_id=product_id)
    return InventoryOut.model_validate(row)


@router.put("/{product_id}", response_model=InventoryOut)
def set_inventory(product_id: IdPath, body: InventoryUpdate, session: SessionDep) -> InventoryOut:
    """Set a product's stock level."""
    row = service.set_inventory(session=session, product_id=product_id, quantity=body.quantity)
    return InventoryOut.model_validate(row)
