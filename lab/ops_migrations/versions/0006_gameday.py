"""Game days: each run (its whole `gameday.json`) and one row per case, for listing and comparing.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "gameday_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("schema_version", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("interrupted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("pass_rate", sa.Float(precision=53)),
        sa.Column("options", JSONB, nullable=False, server_default="{}"),
        # The whole RunReport: `gameday show --json` answers from it alone.
        sa.Column("report", JSONB, nullable=False),
    )
    # `gameday list`: newest first, run id as the tie-break.
    op.create_index(
        "gameday_runs_started_idx",
        "gameday_runs",
        [sa.text("started_at DESC"), sa.text("run_id DESC")],
    )
    op.create_table(
        "gameday_cases",
        sa.Column(
            "run_id",
            sa.Text,
            sa.ForeignKey("gameday_runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("case_id", sa.Text, nullable=False),  # CaseResult.id: "<case>#<repeat>/<arm>"
        sa.Column("case", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("arm", sa.Text, nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outage_s", sa.Float(precision=53)),
        sa.Column("censored", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("recovered_by", sa.Text, nullable=False),
        sa.Column("diagnosis_correct", sa.Boolean),
        sa.PrimaryKeyConstraint("run_id", "case_id"),
    )
    # One case's history across runs (e.g. every db-lock on the agent arm).
    op.create_index("gameday_cases_case_idx", "gameday_cases", ["case", "arm"])


def downgrade() -> None:
    op.drop_table("gameday_cases")
    op.drop_table("gameday_runs")
