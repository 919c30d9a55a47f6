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
import time
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.store.kb_search import fold
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


# PostgreSQL, several words that are each common: the planner takes words as independent,
# so for two that often come together ("tracking number") it expects a few matches, reads
# every one through the GIN index and sorts them (290 ms at 1,000,000 messages, the plan in
# docs/performance.md) where walking the newest messages would have found enough in a few
# thousand. Such a search first walks the newest `WALK_ROWS` messages; only if fewer than
# `SEARCH_DEPTH` of them match does it also ask the index (the same newest matches either way).
WALK_ROWS = 20 * SEARCH_DEPTH
COMMON_SHARE = 0.01  # a word in at least 1 % of the messages is common
STATS_SECONDS = 600.0  # how long the words' frequencies are kept before they are read again


def all_common(words: list[str], common: frozenset[str]) -> bool:
    """Every word is common; the last one is a prefix (any common word it begins)."""
    if len(words) < 2 or not common:
        return False
    *whole, last = [fold(w) for w in words]  # as `frontdesk_search` stores them: lower case, no accents
    return all(w in common for w in whole) and any(c.startswith(last) for c in common)


_common: dict[str, tuple[float, frozenset[str]]] = {}


def common_lexemes(session: Session) -> frozenset[str]:
    """PostgreSQL's most common words of `message.search_vector` (from `ANALYZE`'s
    statistics) at `COMMON_SHARE` or more, read again every `STATS_SECONDS`."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    cached = _common.get(key)
    if cached is not None and now - cached[0] < STATS_SECONDS:
        return cached[1]
    row = session.execute(
        text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'message' AND attname = 'search_vector'"
        )
    ).first()
    found: frozenset[str] = frozenset()
    if row is not None and row[0] is not None:
        found = frozenset(word for word, share in zip(row[0], row[1], strict=False) if share >= COMMON_SHARE)
    _common[key] = (now, found)
    return found


def matching_conversations(dialect: str, query: str, common: frozenset[str] = frozenset()) -> Select[Any] | None:
    """Ids of conversations with a public message matching every word of `query`, among the
    newest `SEARCH_DEPTH` messages that match (`common`: PostgreSQL's common words)."""
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
        if not all_common(words, common):
            return select(Message.conversation_id).where(Message.id.in_(newest.scalar_subquery()))
        recent = (
            select(Message.id, SEARCH_VECTOR.label("words"), Message.private)
            .order_by(Message.id.desc())
            .limit(WALK_ROWS)
            .subquery("recent")
        )
        walk = (
            select(recent.c.id)
            .where(recent.c.words.op("@@")(tsquery), recent.c.private.is_(False))
            .order_by(recent.c.id.desc())
            .limit(SEARCH_DEPTH)
            .cte("walk")
        )
        # A constant condition: PostgreSQL skips the index's part when the walk found enough.
        short = select(func.count()).select_from(walk).scalar_subquery() < SEARCH_DEPTH
        deeper = newest.subquery("deeper")
        walked = union_all(select(walk.c.id), select(deeper.c.id).where(short))
        return select(Message.conversation_id).where(Message.id.in_(walked))
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


def dialect_of(session: AsyncSession | Session) -> str:
    return session.get_bind().dialect.name
