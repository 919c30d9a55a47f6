"""Satisfaction surveys in the store: the one survey of a resolved conversation.

`ask` runs inside the transaction that resolves a conversation (an agent's status change,
a bulk change, a macro, send-and-resolve, a ticket resolved or closed). On a channel
with `csat = true` it writes the conversation's survey row — unique per conversation, so
resolving, reopening and resolving again asks once — and its outbox item, which asks the
customer on their own channel (see inbox/pipeline/outbox.py). A merged conversation, a
rule's automatic resolve and a conversation without a customer ask nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from inbox.pipeline.ingest import Feed
from inbox.store.models import Channel, Contact, Conversation, CsatSurvey, OutboxItem, utcnow

DAYS = 7  # a rating link works for a week
MAX_COMMENT = 2000
surveys_t = cast(Table, CsatSurvey.__table__)


def channel_asks(settings: object) -> bool:
    return isinstance(settings, dict) and settings.get("csat") is True


def ask(conn: Connection, conversation_id: int, feed: Feed, *, now: dt.datetime | None = None) -> int | None:
    """Write the conversation's survey and its outbox item, once; the survey id or None."""
    now = now or utcnow()
    row = conn.execute(
        select(
            Conversation.channel_id,
            Conversation.contact_id,
            Conversation.assignee_id,
            Conversation.team_id,
            Conversation.merged_into_id,
            Channel.settings,
            Channel.name,
        )
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Conversation.id == conversation_id)
    ).first()
    if row is None or row.merged_into_id is not None or row.contact_id is None or not channel_asks(row.settings):
        return None
    language = conn.scalar(select(Contact.language).where(Contact.id == row.contact_id))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    survey_id = conn.scalar(
        dialect.insert(surveys_t)
        .values(
            conversation_id=conversation_id,
            channel_id=row.channel_id,
            contact_id=row.contact_id,
            agent_id=row.assignee_id,
            team_id=row.team_id,
            language=language,
            requested_at=now,
            expires_at=now + dt.timedelta(days=DAYS),
        )
        .on_conflict_do_nothing(index_elements=["conversation_id"])
        .returning(surveys_t.c.id)
    )
    if survey_id is None:  # asked before
        return None
    conn.execute(
        insert(OutboxItem).values(
            message_id=None,
            survey_id=survey_id,
            channel_id=row.channel_id,
            idempotency_key=f"csat-{survey_id}",
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    feed.append(("csat.requested", {"conversation_id": conversation_id, "survey_id": survey_id, "channel": row.name}, conversation_id))
    return int(survey_id)
