"""E-mail to an address that is not (yet) a conversation's customer, through the outbox.

The outbox sends messages of conversations to the conversation's contact. A notice (a
status page confirmation, an incident update to a status subscriber) has no such
conversation, so `email_notice` makes one: the address's contact on that e-mail channel
(found by its identity, or created), and one *notice thread* per address and purpose
(`thread_key`), created resolved so it never waits in an agent's inbox. The message and
its outbox item are then written by `queue_reply`, as every reply's — in the caller's
transaction, so a notice is queued exactly when the change that causes it commits. A
customer who answers a notice lands in that thread, where agents see what was sent.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, Table, select, update

from inbox.pipeline.ingest import Feed
from inbox.pipeline.replies import Reply, queue_reply
from inbox.store.db import insert_ids
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation

contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
channels_t = cast(Table, Channel.__table__)


def email_channel_id(conn: Connection, name: str | None) -> int | None:
    """The id of the e-mail channel of that name (None when there is none, or it is not e-mail)."""
    if not name:
        return None
    return conn.scalar(select(channels_t.c.id).where(channels_t.c.name == name, channels_t.c.type == "email"))


def contact_for(
    conn: Connection, channel_id: int, address: str, now: dt.datetime, language: str | None = None, name: str | None = None
) -> int:
    """The contact that has `address` on this channel, created (with its identity) when none."""
    found = conn.scalar(select(identities_t.c.contact_id).where(identities_t.c.channel_id == channel_id, identities_t.c.address == address))
    if found is not None:
        return int(found)
    [contact_id] = insert_ids(conn, contacts_t, [{"name": name, "email": address, "language": language, "tags": [], "created_at": now}])
    conn.execute(identities_t.insert().values(contact_id=contact_id, channel_id=channel_id, address=address, created_at=now))
    return contact_id


def email_notice(
    conn: Connection,
    channel_id: int,
    address: str,
    *,
    thread_key: str,
    subject: str,
    text: str,
    html: str | None,
    feed: Feed,
    now: dt.datetime,
    language: str | None = None,
    meta: dict[str, object] | None = None,
    name: str | None = None,
    assignee_id: int | None = None,
) -> int:
    """Queue one e-mail to `address` on the e-mail channel `channel_id`; returns the message id.
    With `assignee_id` the notice thread is that agent's (their own mail: only they see it)."""
    contact_id = contact_for(conn, channel_id, address, now, language, name)
    conversation_id = conn.scalar(
        select(conversations_t.c.id)
        .where(
            conversations_t.c.channel_id == channel_id,
            conversations_t.c.thread_key == thread_key,
            conversations_t.c.contact_id == contact_id,
        )
        .order_by(conversations_t.c.id)
        .limit(1)
    )
    if conversation_id is None:
        [conversation_id] = insert_ids(
            conn,
            conversations_t,
            [
                {
                    "channel_id": channel_id,
                    "contact_id": contact_id,
                    "thread_key": thread_key,
                    "subject": subject,
                    "status": "resolved",
                    "resolved_at": now,
                    "assignee_id": assignee_id,
                    "tags": [],
                    "meta": {"notice": dict(meta or {})},
                    "last_message_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        feed.append(("conversation.created", {"conversation_id": conversation_id, "notice": True}, conversation_id))
    else:
        conn.execute(update(conversations_t).where(conversations_t.c.id == conversation_id).values(subject=subject))
    reply = Reply(text=text, html=html, author_type="system", subject=subject, meta={"notice": dict(meta or {})})
    return queue_reply(conn, int(conversation_id), reply, feed, now)
