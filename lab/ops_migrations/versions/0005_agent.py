"""Agent: incidents, their events, the alerts received, the actions taken; timings view.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0005"
down_revision = "0004"

STATES = (
    "detected",
    "diagnosing",
    "planned",
    "awaiting_approval",
    "acting",
    "verifying",
    "resolved",
    "escalated",
    "failed",
)
_STATE_LIST = ", ".join(f"'{s}'" for s in STATES)

# Read by grafana/dashboards/lab-overview.json ("Incidents: detection and mitigation times").
# detect_s: first alert firing -> diagnosis; mitigate_s: first alert firing -> verified fix.
_TIMINGS_VIEW = """
CREATE VIEW breakfix_incident_timings AS
SELECT opened_at,
       COALESCE(service, '') AS service,
       COALESCE(fault, '') AS fault,
       state,
       EXTRACT(EPOCH FROM (diagnosed_at - detected_at))::float8 AS detect_s,
       EXTRACT(EPOCH FROM (mitigated_at - detected_at))::float8 AS mitigate_s
FROM agent_incidents
"""


def _now() -> sa.sql.elements.TextClause:
    return sa.text("now()")


def _jsonb(name: str, default: str) -> sa.Column[object]:
    return sa.Column(name, JSONB, nullable=False, server_default=default)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE agent_incident_seq")
    op.create_table(
        "agent_incidents",
        sa.Column(
            "id",
            sa.Text,
            primary_key=True,
            server_default=sa.text("'inc-' || lpad(nextval('agent_incident_seq')::text, 5, '0')"),
        ),
        sa.Column("state", sa.Text, nullable=False, server_default="detected"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("severity", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, unique=True),
        sa.Column("group_key", sa.Text),
        sa.Column("fingerprints", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("alertnames", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("alert_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("diagnosed_at", sa.DateTime(timezone=True)),
        sa.Column("acted_at", sa.DateTime(timezone=True)),
        sa.Column("mitigated_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("fault", sa.Text),
        sa.Column("mode", sa.Text),
        _jsonb("diagnosis", "{}"),
        _jsonb("plans", "[]"),
        _jsonb("decisions", "[]"),
        _jsonb("verification", "{}"),
        _jsonb("approval", "{}"),
        _jsonb("usage", "{}"),
        sa.Column("report", sa.Text),
        sa.CheckConstraint(f"state IN ({_STATE_LIST})", name="agent_incidents_state"),
    )
    op.create_index("agent_incidents_opened_idx", "agent_incidents", ["opened_at"])
    op.create_index(
        "agent_incidents_open_idx",
        "agent_incidents",
        ["opened_at"],
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index("agent_incidents_closed_idx", "agent_incidents", ["fault", "closed_at"])
    op.create_index("agent_incidents_group_idx", "agent_incidents", ["group_key"])
    op.create_table(
        "agent_incident_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.Text,
            sa.ForeignKey("agent_incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("state_from", sa.Text),
        sa.Column("state_to", sa.Text),
        _jsonb("inputs", "{}"),
        _jsonb("outputs", "{}"),
    )
    op.create_index("agent_incident_events_idx", "agent_incident_events", ["incident_id", "id"])
    op.create_table(
        "agent_alerts",
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Text, sa.ForeignKey("agent_incidents.id", ondelete="SET NULL")),
        sa.Column("alertname", sa.Text, nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("severity", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "first_received", sa.DateTime(timezone=True), nullable=False, server_default=_now()
        ),
        sa.Column(
            "last_received", sa.DateTime(timezone=True), nullable=False, server_default=_now()
        ),
        sa.Column("received_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        _jsonb("labels", "{}"),
        _jsonb("annotations", "{}"),
        sa.Column("group_key", sa.Text),
        sa.PrimaryKeyConstraint("fingerprint", "starts_at"),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name="agent_alerts_status"),
    )
    op.create_index("agent_alerts_incident_idx", "agent_alerts", ["incident_id"])
    op.create_table(
        "agent_actions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.Text,
            sa.ForeignKey("agent_incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step_no", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        _jsonb("params", "{}"),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("run_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        _jsonb("detail", "{}"),
    )
    op.create_index("agent_actions_incident_idx", "agent_actions", ["incident_id", "step_no"])
    op.create_index("agent_actions_target_idx", "agent_actions", ["target", "started_at"])
    op.execute(_TIMINGS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS breakfix_incident_timings")
    op.drop_table("agent_actions")
    op.drop_table("agent_alerts")
    op.drop_table("agent_incident_events")
    op.drop_table("agent_incidents")
    op.execute("DROP SEQUENCE IF EXISTS agent_incident_seq")
