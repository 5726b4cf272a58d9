"""Observability: downsampled samples, log excerpts, alerts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "obs_samples",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("labels", JSONB, nullable=False, server_default="{}"),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("avg", sa.Float, nullable=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
    )
    op.create_index("obs_samples_lookup_idx", "obs_samples", ["metric", "service", "bucket"])
    op.create_index("obs_samples_bucket_idx", "obs_samples", ["bucket"])
    op.create_table(
        "obs_log_excerpts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_index("obs_log_excerpts_ts_idx", "obs_log_excerpts", ["ts"])
    op.create_table(
        "obs_alerts",
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("alertname", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("labels", JSONB, nullable=False, server_default="{}"),
        sa.Column("annotations", JSONB, nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("fingerprint", "starts_at"),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name="obs_alerts_status"),
    )
    op.create_index("obs_alerts_starts_idx", "obs_alerts", ["starts_at"])


def downgrade() -> None:
    op.drop_table("obs_alerts")
    op.drop_table("obs_log_excerpts")
    op.drop_table("obs_samples")
