"""saved inbox views and notifications (mentions in private notes)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_view",
        sa.Column("id", BIG, nullable=False),
        sa.Column("owner_id", BIG, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agent.id"], name=op.f("fk_saved_view_owner_id_agent"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_view")),
    )
    op.create_index(op.f("ix_saved_view_owner_id"), "saved_view", ["owner_id"], unique=False)
    op.create_table(
        "notification",
        sa.Column("id", BIG, nullable=False),
        sa.Column("agent_id", BIG, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", BIG, nullable=False),
        sa.Column("message_id", BIG, nullable=True),
        sa.Column("by_agent_id", BIG, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], name=op.f("fk_notification_agent_id_agent"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["by_agent_id"], ["agent.id"], name=op.f("fk_notification_by_agent_id_agent"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversation.id"], name=op.f("fk_notification_conversation_id_conversation"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_notification_message_id_message"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index("ix_notification_agent_read", "notification", ["agent_id", "read_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notification_agent_read", table_name="notification")
    op.drop_table("notification")
    op.drop_index(op.f("ix_saved_view_owner_id"), table_name="saved_view")
    op.drop_table("saved_view")
