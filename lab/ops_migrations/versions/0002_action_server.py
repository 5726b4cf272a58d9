"""Action server: API keys, audit log, idempotency records, action runs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("scope IN ('read', 'act', 'admin')", name="api_keys_scope"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("key_id", sa.Text),
        sa.Column("claimed_key_id", sa.Text),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("action", sa.Text),
        sa.Column("params", JSONB),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("error_code", sa.Text),
        sa.Column("run_id", UUID(as_uuid=True)),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("correlation_id", sa.Text, nullable=False),
    )
    op.create_index("audit_log_ts_idx", "audit_log", ["ts"])
    op.create_index("audit_log_key_ts_idx", "audit_log", ["key_id", "ts"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("body", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_table(
        "action_runs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("changes", JSONB, nullable=False, server_default="[]"),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.Column("undo", JSONB),
        sa.Column("undo_of", UUID(as_uuid=True), sa.ForeignKey("action_runs.id")),
        sa.Column("undone_by", UUID(as_uuid=True)),
        sa.Column("error", sa.Text),
        sa.Column("key_id", sa.Text),
        sa.Column("correlation_id", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
    )
    op.create_index("action_runs_started_idx", "action_runs", ["started_at"])


def downgrade() -> None:
    op.drop_table("action_runs")
    op.drop_table("idempotency_keys")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
