"""priority list index: the inbox filtered by status and priority, newest first (docs/performance.md)

`conversation (status, priority, last_message_at, id)`: a list with a priority (the built-in
filter, and saved views such as "open P3 billing") walks only that priority's conversations
in the list's order, where `ix_conversation_status_last` walked every conversation of the
status and dropped the other priorities one by one. On a million messages the saved view
"open, P3, tag billing" at page 21 went from 13.6 to 3.5 ms on SQLite.

On PostgreSQL also statistics on the expression a tag filter tests, `tags::text` (the
lists' quoted LIKE): without them the planner guesses that a tag keeps 0.5 % of the rows,
expects a handful, and sorts every open P3 conversation rather than walk the index and stop
at the page (48 ms against 0.9 ms on a million messages; docs/performance.md shows both
plans).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

NAME = "ix_conversation_status_priority_last"
TAG_STATISTICS = "st_conversation_tags_text"


def upgrade() -> None:
    op.execute(f"CREATE INDEX {NAME} ON conversation (status, priority, last_message_at, id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE STATISTICS {TAG_STATISTICS} ON ((tags)::text) FROM conversation")
    op.execute("ANALYZE conversation")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {TAG_STATISTICS}")
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
