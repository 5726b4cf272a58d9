"""Product category, which product listing selects and filters on.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add products.category with an index for the listing filter."""
    op.add_column(
        "products",
        sa.Column("category", sa.String(64), nullable=False, server_default="general"),
    )
    op.create_index("ix_products_category", "products", ["category"])


def downgrade() -> None:
    """Drop products.category and its index."""
    op.drop_index("ix_products_category", table_name="products")
    op.drop_column("products", "category")
