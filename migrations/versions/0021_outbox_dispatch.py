"""Outbox: the "in flight" mark of a send, so a send in doubt is told from one never made

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # outbox_item is neither `message` nor `contact`: a plain added column.
    op.add_column("outbox_item", sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE outbox_item SET status = 'failed' WHERE status = 'unknown'")
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_column("dispatched_at")
