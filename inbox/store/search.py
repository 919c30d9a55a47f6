"""Full-text search over message text: SQLite FTS5 or PostgreSQL `to_tsvector`.

Both indexes are built by migrations (0005, then 0020 for PostgreSQL's accent-blind
`frontdesk_search` configuration); FTS5 is kept in step by triggers. Accents never matter:
FTS5's `remove_diacritics 2` and PostgreSQL's `unaccent` fold "facturación" and
"facturacion" to the same word.

A search reads the newest `SEARCH_DEPTH` matching messages (by id, which grows with time)
and the conversations they belong to: a common word costs the same as a rare one, and
a list of conversations is never built from hundreds of thousands of matches. What lies
deeper is found by narrowing the search (more words, a status, a team).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store.models import Conversation, Message

_WORD = re.compile(r"\w+", re.UNICODE)
SEARCH_DEPTH = 2000
PG_CONFIG = "frontdesk_search"  # migration 0020


def words_of(query: str) -> list[str]:
    return _WORD.findall(query)[:16]


def fts5_query(query: str) -> str | None:
    """Each word a quoted FTS5 token, the last one a prefix: nothing the user types is syntax."""
    words = words_of(query)
    if not words:
        return None
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


# PostgreSQL: the stored `to_tsvector('frontdesk_search', text)` of each message (migration
# 0020, GIN-indexed; not in the ORM model, the database computes it).
SEARCH_VECTOR: Any = literal_column("message.search_vector")


def matching_conversations(dialect: str, query: str) -> Select[Any] | None:
    """Ids of conversations with a public message matching every word of `query`, among the
    newest `SEARCH_DEPTH` messages that match."""
    if dialect == "postgresql":
        words = words_of(query)
        if not words:
            return None
        # Rendered into the statement, not bound: asyncpg prepares statements, and after a few
        # runs PostgreSQL would plan `@@ $1` once for every word, common or rare (a generic
        # plan); a literal gets the plan for its own words' statistics.
        words_query: Any = bindparam("pg_tsquery", " & ".join(w + ":*" for w in words), literal_execute=True)
        tsquery = func.to_tsquery(literal_column(f"'{PG_CONFIG}'::regconfig"), words_query)
        newest = (
            select(Message.id)
            .where(SEARCH_VECTOR.op("@@")(tsquery), Message.private.is_(False))
            .order_by(Message.id.desc())
            .limit(SEARCH_DEPTH)
        )
        return select(Message.conversation_id).where(Message.id.in_(newest.scalar_subquery()))
    match = fts5_query(query)
    if match is None:
        return None
    ids: Any = (
        select(literal_column("rowid"))
        .select_from(text("message_fts"))
        .where(text("message_fts MATCH :fts_query").bindparams(fts_query=match))
        .order_by(literal_column("rowid").desc())
        .limit(SEARCH_DEPTH)
    )
    return select(Message.conversation_id).where(Message.id.in_(ids), Message.private.is_(False))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def subject_contains(dialect: str, query: str) -> ColumnElement[bool]:
    """The conversation's subject holds `query` (any case). SQLite answers from the trigram
    index (migration 0020) when the text is long enough and plain; PostgreSQL's planner uses
    its pg_trgm index for the same ILIKE."""
    if dialect == "sqlite" and len(query) >= 3 and not any(c in query for c in "%_\\\"'"):
        pattern = f"%{query}%"
        ids: Any = (
            select(literal_column("rowid"))
            .select_from(text("conversation_subject_fts"))
            .where(text("conversation_subject_fts.subject LIKE :subject_pattern").bindparams(subject_pattern=pattern))
            .order_by(literal_column("rowid").desc())
            .limit(SEARCH_DEPTH)
        )
        return Conversation.id.in_(ids)
    pattern = f"%{_escape_like(query)}%"
    if dialect == "postgresql":  # a literal for the planner, as in `matching_conversations`
        return Conversation.subject.ilike(bindparam("pg_subject", pattern, literal_execute=True), escape="\\")
    return Conversation.subject.ilike(pattern, escape="\\")


def subject_matches(dialect: str, query: str) -> Select[Any]:
    """Ids of the newest `SEARCH_DEPTH` conversations whose subject holds `query` (SQLite's
    trigram lookup carries the limit itself: a UNION's member there takes none)."""
    found = select(Conversation.id).where(subject_contains(dialect, query))
    return found if dialect == "sqlite" else found.order_by(Conversation.id.desc()).limit(SEARCH_DEPTH)


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
