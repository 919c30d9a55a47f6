"""macros, and the idempotency keys of bulk changes

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "macro",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agent.id"], name=op.f("fk_macro_owner_id_agent"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macro")),
        sa.UniqueConstraint("owner_id", "name", name="uq_macro_owner_name"),
    )
    op.create_index(op.f("ix_macro_owner_id"), "macro", ["owner_id"], unique=False)
    op.create_table(
        "bulk_request",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=320), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_request")),
        sa.UniqueConstraint("scope", "key", name="uq_bulk_request_scope_key"),
    )
    op.create_table(
        "bulk_item",
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["bulk_request.id"], name=op.f("fk_bulk_item_request_id_bulk_request"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "conversation_id", name=op.f("pk_bulk_item")),
    )


def downgrade() -> None:
    op.drop_table("bulk_item")
    op.drop_table("bulk_request")
    op.drop_index(op.f("ix_macro_owner_id"), table_name="macro")
    op.drop_table("macro")
