"""Order service: place and cancel orders, each in one transaction with row locks."""

from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from target_server.cache import Quote
from target_server.errors import (
    InsufficientStockError,
    NotFoundError,
    OrderNotCancellableError,
    OrderTooLargeError,
)
from target_server.models import Inventory, Order, OrderLine, Product
from target_server.pricing import PricingClient
from target_server.products import skus_by_id
from target_server.schemas import INT4_MAX, OrderItem

PLACED = "placed"
CANCELLED = "cancelled"


def place_order(*, session: Session, pricing: PricingClient, items: Iterable[OrderItem]) -> Order:
    """Reserve stock for every line and record the order, or change nothing at all."""
    wanted: Counter[int] = Counter()
    for item in items:
        wanted[item.product_id] += item.quantity
    ids = sorted(wanted)
    skus = skus_by_id(session=session, product_ids=ids)
    _require_products(ids, found=skus)
    # Prices before the transaction: a slow upstream must hold neither a pooled connection
    # nor inventory row locks. The read above has already ended its transaction.
    prices = {pid: pricing.price(skus[pid]).quote for pid in ids}
    total = sum(prices[pid].price_cents * wanted[pid] for pid in ids)
    if total > INT4_MAX:
        raise OrderTooLargeError(f"order total {total} cents exceeds {INT4_MAX}")
    try:
        order = _reserve_and_record(session=session, wanted=wanted, prices=prices, total=total)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return order


def _reserve_and_record(
    *, session: Session, wanted: Counter[int], prices: dict[int, Quote], total: int
) -> Order:
    """Lock, re-check and decrement stock, then add the order; the caller commits."""
    ids = sorted(wanted)
    # Re-validate under locks: a product may have been deleted while we were pricing.
    # FOR KEY SHARE blocks its deletion until we commit; lock order is products, inventory.
    locked = session.scalars(
        select(Product.id)
        .where(Product.id.in_(ids))
        .order_by(Product.id)
        .with_for_update(key_share=True)
    ).all()
    _require_products(ids, found=locked)
    stock = {row.product_id: row for row in _lock_inventory(session, ids)}
    for pid in ids:
        available = stock[pid].quantity if pid in stock else 0
        if available < wanted[pid]:
            raise InsufficientStockError(
                f"insufficient stock for product {pid}: "
                f"requested {wanted[pid]}, available {available}"
            )
    for pid in ids:
        stock[pid].quantity -= wanted[pid]
    # The decrement is written before the order: any later failure must undo it (rollback).
    session.flush()
    order = Order(
        status=PLACED,
        currency=prices[ids[0]].currency,
        total_cents=total,
        lines=[
            OrderLine(
                product_id=pid, quantity=wanted[pid], unit_price_cents=prices[pid].price_cents
            )
            for pid in ids
        ],
    )
    session.add(order)
    session.flush()
    return order


def _require_products(ids: list[int], *, found: Collection[int]) -> None:
    missing = [pid for pid in ids if pid not in found]
    if missing:
        raise NotFoundError(f"product {missing[0]} not found")


def get_order(*, session: Session, order_id: int) -> Order:
    """One order with its lines; NotFoundError when the id is unknown."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFoundError(f"order {order_id} not found")
    return order


def cancel_order(*, session: Session, order_id: int) -> Order:
    """Put the order's units back in stock and mark it cancelled; only once."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFoundError(f"order {order_id} not found")
    if order.status != PLACED:
        session.rollback()
        raise OrderNotCancellableError(f"order {order_id} is {order.status}")
    returned = {line.product_id: line.quantity for line in order.lines}
    for row in _lock_inventory(session, sorted(returned)):
        row.quantity += returned[row.product_id]
    order.status = CANCELLED
    session.commit()
    return order


def _lock_inventory(session: Session, product_ids: list[int]) -> Sequence[Inventory]:
    # Always lock in product_id order so two orders sharing products cannot deadlock.
    query = (
        select(Inventory)
        .where(Inventory.product_id.in_(product_ids))
        .order_by(Inventory.product_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).all()
