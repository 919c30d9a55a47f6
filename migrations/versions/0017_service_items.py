"""broadcasts: when all recipients are written (a broadcast resumes until then), and the
idempotency key of the request that started it

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("broadcast", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("broadcast", sa.Column("idempotency_key", sa.String(128), nullable=True))
    op.create_index("uq_broadcast_key", "broadcast", ["ticket_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_broadcast_key", table_name="broadcast")
    with op.batch_alter_table("broadcast") as batch:
        batch.drop_column("idempotency_key")
        batch.drop_column("completed_at")
