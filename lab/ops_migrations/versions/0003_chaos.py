"""Chaos server: fault ledger, chaos events, kill switch latch.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"

STATES = "('intended', 'active', 'reverting', 'reverted', 'failed')"


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "chaos_faults",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("fault_id", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False, server_default="{}"),
        sa.Column("ttl_s", sa.Float, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("revert_data", JSONB, nullable=False, server_default="{}"),
        sa.Column("injector", sa.BigInteger, nullable=False),
        sa.Column("correlation_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("injected_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reverted_at", sa.DateTime(timezone=True)),
        sa.Column("revert_reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.CheckConstraint(f"state IN {STATES}", name="chaos_faults_state"),
    )
    op.create_index("chaos_faults_state_idx", "chaos_faults", ["state"])
    op.create_index("chaos_faults_created_idx", "chaos_faults", ["created_at"])
    op.create_table(
        "chaos_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("fault", UUID(as_uuid=True)),
        sa.Column("fault_id", sa.Text),
        sa.Column("target", sa.Text),
        sa.Column("correlation_id", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("chaos_events_ts_idx", "chaos_events", ["ts"])
    op.create_index("chaos_events_correlation_idx", "chaos_events", ["correlation_id"])
    op.create_table(
        "chaos_kill_switch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("engaged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("engaged_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
        sa.CheckConstraint("id = 1", name="chaos_kill_switch_single_row"),
    )
    op.execute("INSERT INTO chaos_kill_switch (id, engaged) VALUES (1, false)")


def downgrade() -> None:
    op.drop_table("chaos_kill_switch")
    op.drop_table("chaos_events")
    op.drop_table("chaos_faults")
