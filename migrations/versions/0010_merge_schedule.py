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
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("merged_into_id", BigId, nullable=True))
        batch.create_foreign_key("fk_conversation_merged_into_id_conversation", "conversation", ["merged_into_id"], ["id"])
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("delivery", existing_type=sa.String(length=8), type_=sa.String(length=16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.alter_column("delivery", existing_type=sa.String(length=16), type_=sa.String(length=8), existing_nullable=False)
        batch.drop_column("send_at")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_constraint("fk_conversation_merged_into_id_conversation", type_="foreignkey")
        batch.drop_column("merged_into_id")
