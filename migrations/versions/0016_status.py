"""the public status page's e-mail subscribers and their notices; surge detection's
suggested major incidents

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_subscriber",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "status_notice",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("subscriber_id", BigId, sa.ForeignKey("status_subscriber.id", ondelete="CASCADE"), nullable=False),
        sa.Column("broadcast_id", BigId, sa.ForeignKey("broadcast.id", ondelete="CASCADE"), nullable=True),
        sa.Column("message_id", BigId, sa.ForeignKey("message.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subscriber_id", "broadcast_id", name="uq_status_notice"),
    )
    op.create_index("ix_status_notice_subscriber_id", "status_notice", ["subscriber_id"])
    op.create_table(
        "incident_suggestion",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("node_type", sa.String(16), nullable=True),
        sa.Column("node_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("ticket_id", BigId, sa.ForeignKey("ticket.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_by", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_incident_suggestion_status", "incident_suggestion", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_incident_suggestion_status", table_name="incident_suggestion")
    op.drop_table("incident_suggestion")
    op.drop_index("ix_status_notice_subscriber_id", table_name="status_notice")
    op.drop_table("status_notice")
    op.drop_table("status_subscriber")
