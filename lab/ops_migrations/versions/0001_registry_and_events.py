"""Service registry and lab events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("restart_policy", sa.Text, nullable=False),
        sa.Column("depends_on", JSONB, nullable=False, server_default="[]"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("events_ts_idx", "events", ["ts"])
    op.create_index("events_service_ts_idx", "events", ["service", "ts"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("services")
