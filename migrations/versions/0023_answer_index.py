"""answer index: who answered whom, read from an index (docs/performance.md)

`message (conversation_id, direction, deleted_at, private, automated, created_at)`: the lists'
waiting times (`describe`'s "waiting" lookup: the customer's first message after our last
public reply) and the `waiting_minutes_over` filter find our last public reply by one seek
(every column of its test an equality, `created_at` last) and read the customer's messages
from the index alone, never the message rows. On a million messages the contact page's
waiting lookup (300 conversations) went from 6.4 to 1.8 ms on SQLite.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

NAME = "ix_message_conversation_answer"


def upgrade() -> None:
    op.execute(f"CREATE INDEX {NAME} ON message (conversation_id, direction, deleted_at, private, automated, created_at)")
    op.execute("ANALYZE message")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
