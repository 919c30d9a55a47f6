"""Full-text search over message text: SQLite FTS5 or PostgreSQL `to_tsvector`.

Both indexes are built by migration 0005 (FTS5 is kept in step by triggers).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store.models import Message

_WORD = re.compile(r"\w+", re.UNICODE)


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


def matching_conversations(dialect: str, query: str) -> Select[Any] | None:
    """Ids of conversations with a public message matching every word of `query`."""
    if dialect == "postgresql":
        words = words_of(query)
        if not words:
            return None
        simple: Any = literal_column("'simple'::regconfig")
        tsquery = func.to_tsquery(simple, " & ".join(w + ":*" for w in words))
        return select(Message.conversation_id).where(func.to_tsvector(simple, Message.text).op("@@")(tsquery), Message.private.is_(False))
    match = fts5_query(query)
    if match is None:
        return None
    ids: Any = (
        select(literal_column("rowid"))
        .select_from(text("message_fts"))
        .where(text("message_fts MATCH :fts_query").bindparams(fts_query=match))
    )
    return select(Message.conversation_id).where(Message.id.in_(ids), Message.private.is_(False))


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
