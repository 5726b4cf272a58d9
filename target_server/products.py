"""Product service: list, read, create, update, delete."""

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from target_server.errors import ConflictError, NotFoundError
from target_server.models import Inventory, Product
from target_server.schemas import ProductCreate, ProductUpdate

_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"


def list_products(
    *, session: Session, limit: int, offset: int, category: str | None = None
) -> Sequence[Product]:
    """Products by id, optionally in one category."""
    query = select(Product).order_by(Product.id).limit(limit).offset(offset)
    if category is not None:
        query = query.where(Product.category == category)
    return session.scalars(query).all()


def get_product(*, session: Session, product_id: int) -> Product:
    """One product; NotFoundError when the id is unknown."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFoundError(f"product {product_id} not found")
    return product


def skus_by_id(*, session: Session, product_ids: Iterable[int]) -> dict[int, str]:
    """The SKUs of the products that exist, read in a transaction ended before returning.

    Callers go on to the pricing upstream; ending the transaction hands the connection back
    to the pool, so a slow upstream cannot starve every other request of connections.
    """
    try:
        rows = session.execute(
            select(Product.id, Product.sku).where(Product.id.in_(list(product_ids)))
        ).all()
    finally:
        session.rollback()
    return {row.id: row.sku for row in rows}


def get_sku(*, session: Session, product_id: int) -> str:
    """One product's SKU, with the transaction ended; NotFoundError when the id is unknown."""
    sku = skus_by_id(session=session, product_ids=[product_id]).get(product_id)
    if sku is None:
        raise NotFoundError(f"product {product_id} not found")
    return sku


def create_product(*, session: Session, data: ProductCreate) -> Product:
    """Insert a product and its inventory row in one transaction."""
    product = Product(
        sku=data.sku, name=data.name, description=data.description, category=data.category
    )
    session.add(product)
    try:
        session.flush()
        session.add(Inventory(product_id=product.id, quantity=data.quantity))
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if _pgcode(exc) == _UNIQUE_VIOLATION:
            raise ConflictError(f"sku {data.sku!r} already exists") from None
        raise
    return product


def update_product(*, session: Session, product_id: int, data: ProductUpdate) -> Product:
    """Change the fields present in `data`."""
    product = get_product(session=session, product_id=product_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(product, field, value)
    session.commit()
    return product


def delete_product(*, session: Session, product_id: int) -> None:
    """Delete a product and its stock; ConflictError when orders still reference it."""
    product = get_product(session=session, product_id=product_id)
    session.delete(product)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if _pgcode(exc) == _FOREIGN_KEY_VIOLATION:
            raise ConflictError(f"product {product_id} has orders and cannot be deleted") from None
        raise


def _pgcode(exc: IntegrityError) -> str | None:
    code = getattr(exc.orig, "pgcode", None)
    return code if isinstance(code, str) else None
