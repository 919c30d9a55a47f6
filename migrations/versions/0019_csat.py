"""CSAT: one satisfaction survey per resolved conversation, asked through the outbox

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "csat_survey",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("conversation_id", BigId, sa.ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("channel_id", BigId, sa.ForeignKey("channel.id", ondelete="CASCADE"), nullable=False),
        sa.Column("contact_id", BigId, sa.ForeignKey("contact.id", ondelete="SET NULL"), nullable=True),
        sa.Column("agent_id", BigId, sa.ForeignKey("agent.id", ondelete="SET NULL"), nullable=True),
        sa.Column("team_id", BigId, sa.ForeignKey("team.id", ondelete="SET NULL"), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_via", sa.String(16), nullable=True),
    )
    op.create_index("ix_csat_survey_agent_id", "csat_survey", ["agent_id"])
    op.create_index("ix_csat_survey_team_id", "csat_survey", ["team_id"])
    op.create_index("ix_csat_survey_rated_at", "csat_survey", ["rated_at"])
    # outbox_item is neither `message` nor `contact`: a plain added column (no FK constraint on SQLite).
    op.add_column("outbox_item", sa.Column("survey_id", sa.BigInteger(), nullable=True))
    op.create_index("uq_outbox_item_survey_id", "outbox_item", ["survey_id"], unique=True)


def downgrade() -> None:
    op.execute("DELETE FROM outbox_item WHERE survey_id IS NOT NULL")
    op.drop_index("uq_outbox_item_survey_id", "outbox_item")
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_column("survey_id")
    op.drop_index("ix_csat_survey_rated_at", "csat_survey")
    op.drop_index("ix_csat_survey_team_id", "csat_survey")
    op.drop_index("ix_csat_survey_agent_id", "csat_survey")
    op.drop_table("csat_survey")
