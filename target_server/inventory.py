"""Inventory service: read and set a product's stock."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from target_server.errors import NotFoundError
from target_server.models import Inventory
from target_server.products import get_product


def get_inventory(*, session: Session, product_id: int) -> Inventory:
    """The stock row of a product; NotFoundError when the product is unknown."""
    inventory = session.get(Inventory, product_id)
    if inventory is None:
        get_product(session=session, product_id=product_id)
        raise NotFoundError(f"no inventory for product {product_id}")
    return inventory


def set_inventory(*, session: Session, product_id: int, quantity: int) -> Inventory:
    """Set the stock of an existing product, creating its row if it has none."""
    get_product(session=session, product_id=product_id)
    statement = insert(Inventory).values(product_id=product_id, quantity=quantity)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Inventory.product_id],
            set_={
                "quantity": statement.excluded.quantity,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
    session.commit()
    inventory = session.get(Inventory, product_id, populate_existing=True)
    assert inventory is not None
    return inventory
