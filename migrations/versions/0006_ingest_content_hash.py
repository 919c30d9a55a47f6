"""ingest: a content hash on messages, to tell a redelivery from another mail reusing its id

An email's Message-ID is chosen by the sender, and some senders reuse one. With the hash
of what a message says, a redelivery (same id, same content) stays a duplicate while a
different message under a reused id is stored as its own message.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message", sa.Column("content_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("message", "content_sha256")
