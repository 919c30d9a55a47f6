"""Satisfaction surveys in the store: the one survey of a resolved conversation.

`ask` runs inside the transaction that resolves a conversation (an agent's status change,
a bulk change, a macro, send-and-resolve, a ticket resolved or closed). On a channel
with `csat = true` it writes the conversation's survey row — unique per conversation, so
resolving, reopening and resolving again asks once — and its outbox item, which asks the
customer on their own channel (see inbox/pipeline/outbox.py). A merged conversation, a
rule's automatic resolve and a conversation without a customer ask nothing.

The item waits `csat_delay` seconds (the channel's setting, default `DELAY`) before it
goes out, so that a resolution that does not hold asks nothing: `withdraw` takes back a
survey that has not gone out when the conversation is reopened (the inbox's Undo, a
status change, a customer writing again), and the outbox worker, when the item comes
due, withdraws it if the conversation is not resolved then. A withdrawn survey is gone
(its row and its item): the next resolve asks afresh. One that has gone out stays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from inbox.store.models import Channel, Contact, Conversation, CsatSurvey, OutboxItem, utcnow

DAYS = 7  # a rating link works for a week
MAX_COMMENT = 2000
DELAY = 120  # seconds between the resolve and the question: longer than the inbox's 10-second Undo
MAX_DELAY = 7 * 24 * 3600
surveys_t = cast(Table, CsatSurvey.__table__)
Feed = list[tuple[str, dict[str, Any], int | None]]


def channel_asks(settings: object) -> bool:
    return isinstance(settings, dict) and settings.get("csat") is True


def delay_of(settings: object) -> int:
    """Seconds a channel's survey waits after the resolve (`csat_delay`, else DELAY)."""
    value = settings.get("csat_delay") if isinstance(settings, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DELAY:
        return value
    return DELAY


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
            idempotency_key=f"csat-{survey_id}-{int(now.timestamp() * 1000)}",  # ids may be reused after a withdrawal
            status="pending",
            attempts=0,
            next_attempt_at=now + dt.timedelta(seconds=delay_of(row.settings)),
            created_at=now,
        )
    )
    # `csat.requested` is written when the question goes out (the outbox), not here.
    return int(survey_id)


def withdraw(conn: Connection, conversation_ids: list[int]) -> list[int]:
    """Take back the surveys of these conversations that have not gone out (their outbox
    item still waits); the conversations whose survey was withdrawn. One on its way
    (being sent), sent, or failed stays."""
    if not conversation_ids:
        return []
    rows = conn.execute(
        select(CsatSurvey.id, CsatSurvey.conversation_id)
        .join(OutboxItem, OutboxItem.survey_id == CsatSurvey.id)
        .where(CsatSurvey.conversation_id.in_(conversation_ids), CsatSurvey.rated_at.is_(None), OutboxItem.status == "pending")
    ).all()
    if not rows:
        return []
    # Only the items still waiting as the delete runs (a worker may have claimed one since the read).
    taken = conn.scalars(
        delete(OutboxItem)
        .where(OutboxItem.survey_id.in_([r.id for r in rows]), OutboxItem.status == "pending")
        .returning(OutboxItem.survey_id)
    ).all()
    if not taken:
        return []
    conn.execute(delete(CsatSurvey).where(CsatSurvey.id.in_(list(taken))))
    return sorted(r.conversation_id for r in rows if r.id in set(taken))
