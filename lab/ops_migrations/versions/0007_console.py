"""The web console's own record: every action taken from it, with who took it.

A table of its own rather than rows in `events`: the audit page filters and pages by actor,
action and outcome, which are columns here (indexed), not keys inside a JSON blob, and the
supervisor's lab events stay what they are.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "console_actions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.Column("actor", sa.Text, nullable=False),  # the console login's name
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),  # break, revert, kill, approve, ...
        sa.Column("target", sa.Text),  # a fault, service, incident or scenario
        sa.Column("params", JSONB, nullable=False, server_default="{}"),
        sa.Column("outcome", sa.Text, nullable=False),  # ok | refused | error
        sa.Column("status_code", sa.Integer),
        sa.Column("detail", sa.Text),
    )
    op.create_index(
        "console_actions_at_idx", "console_actions", [sa.text("at DESC"), sa.text("id DESC")]
    )
    op.create_index("console_actions_actor_idx", "console_actions", ["actor", "action"])


def downgrade() -> None:
    op.drop_table("console_actions")
