"""agent UI: full-text search over messages, read markers, canned responses

SQLite gets an FTS5 table kept in step with `message` by triggers; PostgreSQL gets a
GIN index on the same `to_tsvector('simple', ...)` expression the search query uses.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE message_fts USING fts5(text, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
    """CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
         INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
         INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER message_fts_update AFTER UPDATE OF text ON message BEGIN
         INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text);
         INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text);
       END""",
]


def upgrade() -> None:
    op.create_table(
        "canned_response",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_canned_response"),
        sa.UniqueConstraint("name", name="uq_canned_response_name"),
    )
    op.create_table(
        "conversation_read",
        sa.Column("agent_id", sa.BigInteger(), sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), sa.ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "conversation_id", name="pk_conversation_read"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_message_fts ON message USING gin (to_tsvector('simple', text))")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_fts")
    else:
        for name in ("message_fts_insert", "message_fts_delete", "message_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS message_fts")
    op.drop_table("conversation_read")
    op.drop_table("canned_response")
