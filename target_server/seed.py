"""Idempotent demo data: about twenty products, each with stock."""

from sqlalchemy import create_engine, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.pool import NullPool

from target_server.models import Inventory, Product

_CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("COF-001", "Espresso beans 1 kg", "coffee"),
    ("COF-002", "Filter coffee 500 g", "coffee"),
    ("COF-003", "Decaf beans 250 g", "coffee"),
    ("TEA-001", "Green tea 100 g", "tea"),
    ("TEA-002", "Earl Grey 100 g", "tea"),
    ("TEA-003", "Rooibos 100 g", "tea"),
    ("MUG-001", "Ceramic mug", "kitchen"),
    ("MUG-002", "Travel mug", "kitchen"),
    ("KIT-001", "Pour-over dripper", "kitchen"),
    ("KIT-002", "Burr grinder", "kitchen"),
    ("KIT-003", "Milk frother", "kitchen"),
    ("KIT-004", "Kettle 1.7 l", "kitchen"),
    ("BAK-001", "Croissant", "bakery"),
    ("BAK-002", "Sourdough loaf", "bakery"),
    ("BAK-003", "Cinnamon roll", "bakery"),
    ("BAK-004", "Bagel", "bakery"),
    ("SNK-001", "Dark chocolate bar", "snacks"),
    ("SNK-002", "Almond biscotti", "snacks"),
    ("SNK-003", "Granola 500 g", "snacks"),
    ("SNK-004", "Oat cookies", "snacks"),
)
_INITIAL_STOCK = 100


def seed(database_url: str) -> int:
    """Insert the demo catalogue if missing; return how many products were added."""
    engine = create_engine(database_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            added = conn.execute(
                pg_insert(Product)
                .values([{"sku": s, "name": n, "category": c} for s, n, c in _CATALOGUE])
                .on_conflict_do_nothing(index_elements=["sku"])
                .returning(Product.id)
            ).all()
            skus = [sku for sku, _, _ in _CATALOGUE]
            ids = conn.execute(select(Product.id).where(Product.sku.in_(skus))).scalars().all()
            conn.execute(
                pg_insert(Inventory)
                .from_select(
                    ["product_id", "quantity"],
                    select(Product.id, literal(_INITIAL_STOCK)).where(Product.id.in_(ids)),
                )
                .on_conflict_do_nothing(index_elements=["product_id"])
            )
        return len(added)
    finally:
        engine.dispose()
