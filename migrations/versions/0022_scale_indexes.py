"""scale: indexes for a million messages (bench/scale.py, docs/performance.md)

- the inbox lists: newest first by (last_message_at, id) with no status (a search), and per
  assignee and per team with their status; a contact's conversations newest first;
- the audit log filtered by actor;
- searching subjects by substring: SQLite gets a trigram FTS5 table over
  `conversation.subject` kept in step by triggers, PostgreSQL a pg_trgm GIN index (when the
  extension can be created) for the same ILIKE;
- PostgreSQL full text: the `frontdesk_search` text search configuration (`simple`, with
  `unaccent` first when the extension can be created, so "facturacion" finds "facturación"
  as SQLite's `remove_diacritics` does), a stored `message.search_vector` of that
  configuration with a GIN index, replacing 0005's `to_tsvector('simple', text)` index.
  (Adding the stored column rewrites the message table once, under its lock: on a big desk
  the upgrade takes minutes.)

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

INDEXES = [
    "CREATE INDEX ix_conversation_last ON conversation (last_message_at, id)",
    "CREATE INDEX ix_conversation_assignee_status_last ON conversation (assignee_id, status, last_message_at, id)",
    "CREATE INDEX ix_conversation_team_status_last ON conversation (team_id, status, last_message_at, id)",
    "CREATE INDEX ix_conversation_contact_last ON conversation (contact_id, last_message_at, id)",
    "CREATE INDEX ix_audit_entry_agent ON audit_entry (agent_id, id)",
]
INDEX_NAMES = [statement.split()[2] for statement in INDEXES]

SQLITE_SUBJECTS = [
    "CREATE VIRTUAL TABLE conversation_subject_fts USING fts5(subject, content='conversation', content_rowid='id', tokenize='trigram')",
    "INSERT INTO conversation_subject_fts(conversation_subject_fts) VALUES ('rebuild')",
    """CREATE TRIGGER conversation_subject_fts_insert AFTER INSERT ON conversation BEGIN
         INSERT INTO conversation_subject_fts(rowid, subject) VALUES (new.id, new.subject);
       END""",
    """CREATE TRIGGER conversation_subject_fts_delete AFTER DELETE ON conversation BEGIN
         INSERT INTO conversation_subject_fts(conversation_subject_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
       END""",
    """CREATE TRIGGER conversation_subject_fts_update AFTER UPDATE OF subject ON conversation BEGIN
         INSERT INTO conversation_subject_fts(conversation_subject_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
         INSERT INTO conversation_subject_fts(rowid, subject) VALUES (new.id, new.subject);
       END""",
]
SEARCH_CONFIG = "frontdesk_search"
WORD_TOKENS = "asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart"


def _try_extension(name: str) -> bool:
    """CREATE EXTENSION in a savepoint: a server without it (or a role that may not) keeps going."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {name}")
    except Exception:  # noqa: BLE001 (any refusal: the feature is optional)
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    for statement in INDEXES:
        op.execute(statement)
    if op.get_bind().dialect.name != "postgresql":
        for statement in SQLITE_SUBJECTS:
            op.execute(statement)
        # The planner's statistics, new indexes included: without them SQLite would gather every
        # visible conversation through the team and assignee indexes (MULTI-INDEX OR) and sort them.
        op.execute("ANALYZE")
        return
    unaccent = _try_extension("unaccent")
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} (COPY = simple)")
    if unaccent:
        op.execute(f"ALTER TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} ALTER MAPPING FOR {WORD_TOKENS} WITH unaccent, simple")
    # Stored, not an expression index: the planner then has the words' statistics, and a
    # newest-first walk checks each row's vector instead of parsing its text again.
    op.execute(
        f"ALTER TABLE message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector('{SEARCH_CONFIG}'::regconfig, text)) STORED"
    )
    op.execute("CREATE INDEX ix_message_search ON message USING gin (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_message_fts")
    if _try_extension("pg_trgm"):
        op.execute("CREATE INDEX ix_conversation_subject_trgm ON conversation USING gin (subject gin_trgm_ops)")
    op.execute("ANALYZE conversation")
    op.execute("ANALYZE message")
    op.execute("ANALYZE audit_entry")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_conversation_subject_trgm")
        op.execute("DROP INDEX IF EXISTS ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN IF EXISTS search_vector")
        op.execute("CREATE INDEX IF NOT EXISTS ix_message_fts ON message USING gin (to_tsvector('simple', text))")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {SEARCH_CONFIG}")
    else:
        for name in ("conversation_subject_fts_insert", "conversation_subject_fts_delete", "conversation_subject_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS conversation_subject_fts")
    for name in INDEX_NAMES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
