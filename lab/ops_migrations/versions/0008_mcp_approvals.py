"""Approval requests of the MCP gateway: a high-risk action an external agent asked for,
waiting for a human's yes before it runs (and what became of it).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "mcp_approvals",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("client", sa.Text, nullable=False),  # the MCP client's name (its key's)
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False, server_default="{}"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        # pending -> approved | denied | expired; approved -> running -> executed | failed
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("run_id", sa.Text),
        sa.Column("run_status", sa.Text),
        sa.Column("outcome", sa.Text),  # the run's summary or the refusal's text
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "mcp_approvals_state_idx", "mcp_approvals", ["state", sa.text("requested_at DESC")]
    )


def downgrade() -> None:
    op.drop_table("mcp_approvals")
