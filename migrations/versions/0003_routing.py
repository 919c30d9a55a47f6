"""routing state: round-robin pointer, SLA pauses and flags

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("rr_pointer", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pauses", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("sla_flags", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("sla_flags")
        batch.drop_column("pauses")
        batch.drop_column("first_response_at")
    with op.batch_alter_table("team") as batch:
        batch.drop_column("rr_pointer")
