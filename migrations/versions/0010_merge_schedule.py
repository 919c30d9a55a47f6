"""merge and scheduled send: conversation.merged_into_id, message.send_at, a wider message.delivery

Revision ID: 0010
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMNs: on SQLite a batch alter would copy the table, and the copy loses
    # its triggers (message's full-text index). SQLite does not enforce VARCHAR lengths or
    # need the foreign key added afterwards, so only PostgreSQL gets those.
    op.add_column("conversation", sa.Column("merged_into_id", BigId, nullable=True))
    op.add_column("message", sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key("fk_conversation_merged_into_id_conversation", "conversation", "conversation", ["merged_into_id"], ["id"])
        op.alter_column("message", "delivery", existing_type=sa.String(length=8), type_=sa.String(length=16), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("message", "delivery", existing_type=sa.String(length=16), type_=sa.String(length=8), existing_nullable=False)
        op.drop_constraint("fk_conversation_merged_into_id_conversation", "conversation", type_="foreignkey")
    op.drop_column("message", "send_at")
    op.drop_column("conversation", "merged_into_id")
