"""Order routes."""

from fastapi import APIRouter

from target_server import orders as service
from target_server.deps import IdPath, PricingDep, SessionDep
from target_server.schemas import OrderCreate, OrderOut

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", response_model=OrderOut, status_code=201)
def place_order(body: OrderCreate, session: SessionDep, pricing: PricingDep) -> OrderOut:
    """Place an order: all lines reserved in one transaction, or 409 and nothing changes."""
    order = service.place_order(session=session, pricing=pricing, items=body.items)
    return OrderOut.model_validate(order)


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: IdPath, session: SessionDep) -> OrderOut:
    """One order with its lines."""
    return OrderOut.model_validate(service.get_order(session=session, order_id=order_id))


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: IdPath, session: SessionDep) -> OrderOut:
    """Cancel an order and return its units to stock; a second cancel is a 409."""
    return OrderOut.model_validate(service.cancel_order(session=session, order_id=order_id))
