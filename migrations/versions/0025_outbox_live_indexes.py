"""outbox live indexes: the worker's "anything due?" reads only pending and sending rows

Every commit wakes each node's outbox worker, which asks whether anything is due on the
channels it runs. `ix_outbox_due (status, next_attempt_at)` held every row, sent ones
included. SQLite answered by walking every due row of every channel, so a node walked the
whole backlog of a channel it does not run on each commit; PostgreSQL, with statistics,
expected a match soon and scanned the table from its start instead: 23-29 ms a commit with
200,000 sent rows (bench/outbox_due.py).

Two partial indexes take its place, one per live status, by channel then time. They hold
only what is waiting or in flight, so they stay small however long the desk's history, and
the worker asks each for its first entry per channel (docs/performance.md).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_outbox_pending ON outbox_item (channel_id, next_attempt_at) WHERE status = 'pending'")
    op.execute("CREATE INDEX ix_outbox_sending ON outbox_item (channel_id, claimed_until) WHERE status = 'sending'")
    op.execute("DROP INDEX IF EXISTS ix_outbox_due")
    op.execute("ANALYZE outbox_item")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_outbox_due ON outbox_item (status, next_attempt_at)")
    op.execute("DROP INDEX IF EXISTS ix_outbox_sending")
    op.execute("DROP INDEX IF EXISTS ix_outbox_pending")
