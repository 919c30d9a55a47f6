"""E-mail to an agent (an approval request, a notice), through the outbox like any reply.

The outbox sends messages of conversations to a contact's address on a channel, so an agent
written to by e-mail is a contact on the first enabled email channel, with one resolved
conversation (`thread_key` "frontdesk:agent-mail") that collects what was sent to them:
it never shows in the open inbox, and the outbox retries it like any other send.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, Table, insert, select

from inbox.pipeline.ingest import Feed
from inbox.pipeline.replies import Reply, queue_reply
from inbox.store.db import insert_ids
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation

THREAD_KEY = "frontdesk:agent-mail"
channels_t = cast(Table, Channel.__table__)
contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)


def email_channel(conn: Connection) -> int | None:
    return conn.scalar(
        select(channels_t.c.id).where(channels_t.c.type == "email", channels_t.c.enabled.is_(True)).order_by(channels_t.c.id).limit(1)
    )


def queue_agent_email(conn: Connection, email: str, name: str, subject: str, text: str, feed: Feed, now: dt.datetime) -> int | None:
    """Queue an e-mail to an agent's address; the message id, or None without an email channel."""
    channel_id = email_channel(conn)
    if channel_id is None:
        return None
    address = email.lower()
    contact_id = conn.scalar(
        select(identities_t.c.contact_id).where(identities_t.c.channel_id == channel_id, identities_t.c.address == address)
    )
    if contact_id is None:
        [contact_id] = insert_ids(conn, contacts_t, [{"name": name, "email": address, "tags": [], "created_at": now}])
        conn.execute(insert(identities_t).values(contact_id=contact_id, channel_id=channel_id, address=address, created_at=now))
    conversation_id = conn.scalar(
        select(conversations_t.c.id).where(
            conversations_t.c.channel_id == channel_id,
            conversations_t.c.contact_id == contact_id,
            conversations_t.c.thread_key == THREAD_KEY,
        )
    )
    if conversation_id is None:
        [conversation_id] = insert_ids(
            conn,
            conversations_t,
            [
                {
                    "channel_id": channel_id,
                    "contact_id": contact_id,
                    "thread_key": THREAD_KEY,
                    "subject": subject,
                    "status": "resolved",
                    "tags": [],
                    "meta": {},
                    "resolved_at": now,
                    "last_message_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    return queue_reply(conn, conversation_id, Reply(text=text, author_type="system", subject=subject), feed, now)
