"""Replies and notes: a Message plus (for public replies) an OutboxItem, in one transaction.

`queue_reply` is the one implementation, synchronous Core on a connection, so the
ingest transaction (auto-replies, notifications) and an agent's reply
(`inbox.actions.replies.send_reply`) share it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, bindparam, func, insert, select, update

import channels
from channels.base import OutboundAttachment
from inbox.pipeline.ingest import Feed, sanitise_html, store_attachments
from inbox.store.db import insert_ids
from inbox.store.models import Channel, Conversation, Message, OutboxItem, Ticket, utcnow

messages_t = cast(Table, Message.__table__)
outbox_t = cast(Table, OutboxItem.__table__)
conversations_t = cast(Table, Conversation.__table__)
tickets_t = cast(Table, Ticket.__table__)
channels_t = cast(Table, Channel.__table__)

# Statements built once (docs/performance.md, "Statements are built once"): an agent's
# reply runs each of them, and building one cost more than running it.
LATEST_INBOUND = (
    select(messages_t.c.channel_id, messages_t.c.meta)
    .where(messages_t.c.conversation_id == bindparam("conversation_id"), messages_t.c.direction == "in")
    .order_by(messages_t.c.id.desc())
    .limit(1)
)


def _of_latest_inbound(column: Any) -> Any:
    """A column of the customer's latest message in the conversation being replied to."""
    return (
        select(column)
        .where(messages_t.c.conversation_id == conversations_t.c.id, messages_t.c.direction == "in")
        .order_by(messages_t.c.id.desc())
        .limit(1)
        .correlate_except(messages_t)  # the conversation is the outer query's, at any depth
        .scalar_subquery()
    )


# What a reply needs to know of its conversation, in one statement: the conversation's
# channel, subject and first response, the channel and meta of the customer's latest
# message, the type of the channel the reply goes out on; and for the action's checks
# (`inbox.actions.replies.write_reply`) whether it was merged away and its ticket.
_REPLY_CHANNEL_ID = func.coalesce(_of_latest_inbound(messages_t.c.channel_id), conversations_t.c.channel_id)
CONVERSATION_TO_REPLY = select(
    _REPLY_CHANNEL_ID.label("reply_channel_id"),
    conversations_t.c.subject,
    conversations_t.c.first_response_at,
    _of_latest_inbound(messages_t.c.meta).label("latest_meta"),
    select(channels_t.c.type).where(channels_t.c.id == _REPLY_CHANNEL_ID).scalar_subquery().label("channel_type"),
    conversations_t.c.merged_into_id,
    select(tickets_t.c.id)
    .where(tickets_t.c.conversation_id == conversations_t.c.id)
    .order_by(tickets_t.c.id)
    .limit(1)
    .scalar_subquery()
    .label("ticket_id"),
).where(conversations_t.c.id == bindparam("conversation_id"))
QUEUE_SEND = insert(outbox_t)
TOUCH_CONVERSATION = update(conversations_t).where(conversations_t.c.id == bindparam("conversation_id"))
TOUCH_REPLIED = TOUCH_CONVERSATION.values(last_message_at=bindparam("now"), updated_at=bindparam("now"))
TOUCH_FIRST_RESPONSE = TOUCH_REPLIED.values(first_response_at=bindparam("now"))
CHILD_CONVERSATIONS = (
    select(tickets_t.c.conversation_id)
    .where(tickets_t.c.parent_id == bindparam("parent_id"), tickets_t.c.conversation_id.is_not(None))
    .order_by(tickets_t.c.id)
)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    private: bool = False
    html: str | None = None
    author_type: str = "agent"  # agent | system
    agent_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None  # defaults to the conversation's
    attachments: tuple[OutboundAttachment, ...] = ()
    # Scheduled send: the outbox holds it until then (a widget visitor does not see it either).
    send_at: dt.datetime | None = None


# Replies on a channel that `delivers_on_commit` (the widget: its gateway reads them from
# the store on every web node the moment the bus says so) skip the outbox — unless the
# customer asked to be answered by email too (a relay).


def reply_target(conn: Connection, conversation_id: int) -> Row[Any] | None:
    """What `queue_reply` reads of the conversation (None: there is none), for a caller
    that checks it first and hands it on as `target`."""
    return cast("Row[Any] | None", conn.execute(CONVERSATION_TO_REPLY, {"conversation_id": conversation_id}).first())


def queue_reply(
    conn: Connection, conversation_id: int, reply: Reply, feed: Feed, now: dt.datetime | None = None, *, target: Row[Any] | None = None
) -> int:
    """Store the reply and, unless it is a private note, queue its delivery. Returns its id.

    It goes out on the channel of the customer's latest message (a merged conversation
    holds messages from several channels), or the conversation's own channel. `target`:
    the conversation's `reply_target`, when the caller has read it already."""
    now = now or utcnow()
    conversation = target if target is not None else conn.execute(CONVERSATION_TO_REPLY, {"conversation_id": conversation_id}).one()
    channel_id = conversation.reply_channel_id
    scheduled = reply.send_at is not None and not reply.private
    wants_relay = continue_by_email(conversation.latest_meta) is not None
    delivered = reply.private or (not scheduled and channels.delivers_on_commit(str(conversation.channel_type)) and not wants_relay)
    key = uuid.uuid4().hex
    [message_id] = insert_ids(
        conn,
        messages_t,
        [
            {
                "conversation_id": conversation_id,
                "channel_id": channel_id,
                "external_id": f"out:{key}",
                "direction": "out",
                "author_type": reply.author_type,
                "agent_id": reply.agent_id,
                "subject": reply.subject or conversation.subject,
                "text": reply.text,
                "html": sanitise_html(reply.html),
                "private": reply.private,
                "delivery": "sent" if delivered else "scheduled" if scheduled else "queued",
                "sent_at": now if delivered and not reply.private else None,
                "send_at": reply.send_at if scheduled else None,
                "automated": reply.author_type == "system",
                "meta": reply.meta,
                "created_at": now,
            }
        ],
    )
    store_attachments(conn, [(message_id, a) for a in reply.attachments])
    if not delivered:
        conn.execute(
            QUEUE_SEND,
            {
                "message_id": message_id,
                "channel_id": channel_id,
                "idempotency_key": key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": reply.send_at if scheduled else now,
                "created_at": now,
            },
        )
    first_response = not reply.private and not scheduled and reply.author_type == "agent" and conversation.first_response_at is None
    conn.execute(TOUCH_FIRST_RESPONSE if first_response else TOUCH_REPLIED, {"conversation_id": conversation_id, "now": now})
    payload = {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "direction": "out",
        "private": reply.private,
        "agent_id": reply.agent_id,
        **({"send_at": reply.send_at.isoformat()} if scheduled and reply.send_at else {}),
    }
    feed.append(("message.created", payload, conversation_id))
    return message_id


def latest_inbound_meta(conversation_id: int) -> Select[tuple[Any]]:
    """The `meta` of the customer's latest message in a conversation."""
    return (
        select(messages_t.c.meta)
        .where(messages_t.c.conversation_id == conversation_id, messages_t.c.direction == "in")
        .order_by(messages_t.c.id.desc())
        .limit(1)
    )


def reply_channel(conn: Connection, conversation_id: int) -> int | None:
    """The channel of the customer's latest message in a conversation (None: no message yet)."""
    latest = conn.execute(LATEST_INBOUND, {"conversation_id": conversation_id}).first()
    return latest.channel_id if latest is not None else None


def continue_by_email(meta: Any) -> str | None:
    """The address a customer asked to be answered at too (the widget's offline form)."""
    email = meta.get("continue_by_email") if isinstance(meta, dict) else None
    return email if isinstance(email, str) and email else None


def child_conversations(conn: Connection, ticket_id: int | None) -> list[int]:
    """Conversations of the child incidents of a ticket (a major incident's), if any."""
    if ticket_id is None:
        return []
    return [r[0] for r in conn.execute(CHILD_CONVERSATIONS, {"parent_id": ticket_id})]
