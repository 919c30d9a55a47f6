"""An agent's reply or private note, written in Markdown, from whichever surface sent it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, insert, select, update

from channels.base import OutboundAttachment
from inbox.actions.conversations import ConversationChanges, change_conversation
from inbox.actions.notifications import notify_mentions
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.markdown import render_markdown
from inbox.pipeline.replies import Reply, child_conversations, queue_reply, reply_target
from inbox.queries.conversations import find_visible, is_visible
from inbox.store.models import Message, OutboxItem, utcnow

MAX_TEXT = 100_000
MAX_SCHEDULE_AHEAD = dt.timedelta(days=366)
THEN_STATUSES = ("resolved", "pending")  # "Send and resolve", "Send and set pending"
NEWER_PUBLIC = (
    select(Message.id)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.id > bindparam("after_id"), Message.private.is_(False))
    .order_by(Message.id)
    .limit(20)
)


def check_send_at(send_at: dt.datetime | None, now: dt.datetime | None = None) -> None:
    """A scheduled time is timezone-aware, in the future and at most a year ahead."""
    if send_at is None:
        return
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise Invalid("send_at needs a time zone (e.g. 2030-01-31T09:00:00Z)", code="send_at")
    now = now or utcnow()
    if send_at <= now:
        raise Invalid("send_at must be in the future", code="send_at")
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise Invalid("send_at is at most a year ahead", code="send_at")


async def send_reply(
    ctx: Context,
    actor: Actor,
    conversation_id: int,
    text: str,
    *,
    private: bool = False,
    attachments: Sequence[OutboundAttachment] = (),
    send_at: dt.datetime | None = None,
    after_message_id: int | None = None,
    then_status: str | None = None,
) -> int:
    """Store the reply (its Markdown rendered to sanitised HTML) and queue its delivery, in
    one short write transaction; a public reply to a major incident also reaches every
    affected customer's conversation. With `send_at` it is scheduled: the outbox sends it
    then (a note cannot be scheduled). `@email` of an active agent in a private note
    notifies that agent (in a public reply it notifies nobody).

    The collision guard: with `after_message_id` (the newest message the agent saw) the
    reply is refused (Conflict `conversation_moved`, nothing written or sent) when a newer
    public message, inbound or outbound, is in the conversation. With `then_status`
    ("resolved" or "pending") the conversation's status changes in the same transaction
    ("Send and resolve"). Returns the message id."""
    reply = prepare_reply(actor, text, private=private, attachments=attachments, send_at=send_at)
    if then_status is not None and then_status not in THEN_STATUSES:
        raise Invalid(f"the status after a reply is one of {', '.join(THEN_STATUSES)}", code="status")

    def work(tx: Tx) -> int:
        # Whoever sees everything needs no check here: `write_reply` finds the conversation or says NotFound.
        if not actor.sees_everything() and not is_visible(tx.conn, actor.principal, conversation_id):
            raise NotFound.of("conversation")
        if after_message_id is not None:
            check_not_moved(tx, conversation_id, after_message_id)
        message_id = write_reply(tx, conversation_id, reply)
        if then_status is not None:
            change_conversation(tx, conversation_id, ConversationChanges(status=then_status))
        return message_id

    return await perform(ctx.db, ctx.bus, actor, work)


def check_not_moved(tx: Tx, conversation_id: int, after_message_id: int) -> None:
    """Conflict `conversation_moved` when a public message newer than `after_message_id`
    is in the conversation (someone wrote since the agent looked)."""
    newer = tx.conn.scalars(NEWER_PUBLIC, {"conversation_id": conversation_id, "after_id": after_message_id}).all()
    if newer:
        listed = ", ".join(str(n) for n in newer)
        raise Conflict(f"the conversation moved: newer message(s) {listed}; reply again to send anyway", code="conversation_moved")


def prepare_reply(
    actor: Actor,
    text: str,
    *,
    private: bool = False,
    attachments: Sequence[OutboundAttachment] = (),
    send_at: dt.datetime | None = None,
) -> Reply:
    """The reply checked (Invalid when empty, too long or wrongly scheduled) and its Markdown rendered."""
    text = text.strip()
    if not text:
        raise Invalid("a reply needs text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"a reply is at most {MAX_TEXT} characters")
    if send_at is not None and private:
        raise Invalid("a private note cannot be scheduled", code="send_at")
    check_send_at(send_at)
    send_at = send_at.astimezone(dt.UTC) if send_at is not None else None
    return Reply(
        text=text, html=render_markdown(text), private=private, agent_id=actor.agent_id, attachments=tuple(attachments), send_at=send_at
    )


def write_reply(tx: Tx, conversation_id: int, reply: Reply) -> int:
    """The work of `send_reply` inside a transaction some action already holds, for a
    conversation the caller has found visible. Returns the message id."""
    target = reply_target(tx.conn, conversation_id)
    if target is None:
        raise NotFound.of("conversation")
    if target.merged_into_id is not None:
        raise Conflict(f"conversation {conversation_id} was merged into #{target.merged_into_id}; reply there", code="merged")
    message_id = queue_reply(tx.conn, conversation_id, reply, tx.feed, tx.now, target=target)
    if not reply.private:
        for child in child_conversations(tx.conn, target.ticket_id):
            queue_reply(tx.conn, child, reply, tx.feed, tx.now)
    else:
        notify_mentions(tx, conversation_id, message_id, reply.text)
    details: dict[str, object] = {"conversation_id": conversation_id, "private": reply.private, "attachments": len(reply.attachments)}
    if reply.send_at is not None:
        details["send_at"] = reply.send_at.isoformat()
    tx.audit("message.create", f"message:{message_id}", details)
    return message_id


async def cancel_scheduled(ctx: Context, actor: Actor, message_id: int) -> None:
    """Cancel a scheduled reply while the outbox has not taken it (409 once sending or sent).
    Its outbox item goes; the message stays, marked cancelled."""

    def work(tx: Tx) -> None:
        message = tx.session.get(Message, message_id)
        if message is None or find_visible(tx.session, actor.principal, message.conversation_id) is None:
            raise NotFound.of("message")
        if message.delivery != "scheduled":
            raise Conflict(f"message {message_id} is not scheduled (it is {message.delivery})", code="not_scheduled")
        # Only a pending item is cancelled: one the outbox claimed is already being sent.
        gone = tx.conn.execute(
            delete(OutboxItem).where(OutboxItem.message_id == message_id, OutboxItem.status == "pending").returning(OutboxItem.id)
        ).first()
        if gone is None:
            raise Conflict(f"message {message_id} is already being sent", code="not_scheduled")
        tx.conn.execute(update(Message).where(Message.id == message_id).values(delivery="cancelled"))
        payload = {"message_id": message_id, "conversation_id": message.conversation_id, "delivery": "cancelled"}
        tx.event("message.updated", payload, message.conversation_id)
        tx.audit("message.cancel", f"message:{message_id}", {"conversation_id": message.conversation_id, "send_at": _iso(message.send_at)})

    await perform(ctx.db, ctx.bus, actor, work)


RESENDABLE = ("failed", "unknown")


async def resend_message(ctx: Context, actor: Actor, message_id: int) -> None:
    """ "Send again": an outbound public reply (an agent's or the system's) whose delivery
    ended `failed` or `unknown` goes back to `queued` with a new outbox item (same message,
    same channel, a new idempotency key), which replaces the finished one. For `unknown` the
    customer may already have it: the agent asks for it knowingly (docs/architecture.md,
    "Delivery guarantees"). Conflict `not_resendable` for any other message."""

    def work(tx: Tx) -> None:
        message = tx.session.get(Message, message_id)
        if message is None or find_visible(tx.session, actor.principal, message.conversation_id) is None:
            raise NotFound.of("message")
        if (
            message.direction != "out"
            or message.private
            or message.author_type not in ("agent", "system")
            or message.deleted_at is not None
            or message.delivery not in RESENDABLE
        ):
            raise Conflict(f"message {message_id} cannot be sent again (it is {message.delivery})", code="not_resendable")
        previous = message.delivery
        # The finished item goes (an item is one send of one message); a new one is queued.
        old = tx.conn.execute(
            delete(OutboxItem)
            .where(OutboxItem.message_id == message_id, OutboxItem.status.in_(RESENDABLE))
            .returning(OutboxItem.channel_id)
        ).first()
        busy = tx.conn.scalar(select(OutboxItem.id).where(OutboxItem.message_id == message_id))
        if busy is not None:  # the outbox has it again (another "Send again" won)
            raise Conflict(f"message {message_id} is already queued", code="not_resendable")
        channel_id = old.channel_id if old is not None else message.channel_id
        tx.conn.execute(
            insert(OutboxItem).values(
                message_id=message_id,
                channel_id=channel_id,
                idempotency_key=uuid.uuid4().hex,
                status="pending",
                attempts=0,
                next_attempt_at=tx.now,
                created_at=tx.now,
            )
        )
        tx.conn.execute(update(Message).where(Message.id == message_id).values(delivery="queued", delivery_error=None))
        payload = {"message_id": message_id, "conversation_id": message.conversation_id, "delivery": "queued"}
        tx.event("message.updated", payload, message.conversation_id)
        tx.audit(
            "message.resend",
            f"message:{message_id}",
            {"conversation_id": message.conversation_id, "previous": previous, "error": message.delivery_error},
        )

    await perform(ctx.db, ctx.bus, actor, work)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
