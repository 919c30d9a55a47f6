"""An agent's reply or private note, written in Markdown, from whichever surface sent it."""

from __future__ import annotations

from collections.abc import Sequence

from channels.base import OutboundAttachment
from inbox.actions.notifications import notify_mentions
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Invalid, NotFound
from inbox.markdown import render_markdown
from inbox.pipeline.replies import Reply, child_conversations, queue_reply
from inbox.queries.conversations import find_visible

MAX_TEXT = 100_000


async def send_reply(
    ctx: Context,
    actor: Actor,
    conversation_id: int,
    text: str,
    *,
    private: bool = False,
    attachments: Sequence[OutboundAttachment] = (),
) -> int:
    """Store the reply (its Markdown rendered to sanitised HTML) and queue its delivery, in
    one short write transaction; a public reply to a major incident also reaches every
    affected customer's conversation. `@email` of an active agent in a private note
    notifies that agent (in a public reply it notifies nobody). Returns the message id."""
    reply = prepare_reply(actor, text, private=private, attachments=attachments)

    def work(tx: Tx) -> int:
        if find_visible(tx.session, actor.principal, conversation_id) is None:
            raise NotFound.of("conversation")
        return write_reply(tx, conversation_id, reply)

    return await perform(ctx.db, ctx.bus, actor, work)


def prepare_reply(actor: Actor, text: str, *, private: bool = False, attachments: Sequence[OutboundAttachment] = ()) -> Reply:
    """The reply checked (Invalid when empty or too long) and its Markdown rendered."""
    text = text.strip()
    if not text:
        raise Invalid("a reply needs text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"a reply is at most {MAX_TEXT} characters")
    return Reply(text=text, html=render_markdown(text), private=private, agent_id=actor.agent_id, attachments=tuple(attachments))


def write_reply(tx: Tx, conversation_id: int, reply: Reply) -> int:
    """The work of `send_reply` inside a transaction some action already holds, for a
    conversation the caller has found visible. Returns the message id."""
    message_id = queue_reply(tx.conn, conversation_id, reply, tx.feed, tx.now)
    if not reply.private:
        for child in child_conversations(tx.conn, conversation_id):
            queue_reply(tx.conn, child, reply, tx.feed, tx.now)
    else:
        notify_mentions(tx, conversation_id, message_id, reply.text)
    details = {"conversation_id": conversation_id, "private": reply.private, "attachments": len(reply.attachments)}
    tx.audit("message.create", f"message:{message_id}", details)
    return message_id
