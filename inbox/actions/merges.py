"""Merging two conversations into one, and splitting one in two at a message.

A merged conversation keeps its row (resolved, read-only, `merged_into_id` set) so that
whatever later arrives for it — same thread, a reference, its ticket — is led by the
ingest to the conversation it joined. Each moved message keeps its channel."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.conversations import find_visible
from inbox.store.db import insert_ids
from inbox.store.models import Conversation, Message

MAX_HOPS = 10


@dataclass(frozen=True, slots=True)
class Merged:
    conversation_id: int
    into: int
    moved: int


@dataclass(frozen=True, slots=True)
class Split:
    conversation_id: int  # the new one
    source: int
    moved: int


async def merge_conversation(ctx: Context, actor: Actor, conversation_id: int, into: int) -> Merged:
    """Move every message of `conversation_id` into `into`; the merged one becomes resolved
    and points at its target. Both must be visible to the actor."""
    if conversation_id == into:
        raise Invalid("a conversation cannot be merged into itself")

    def work(tx: Tx) -> Merged:
        source = find_visible(tx.session, actor.principal, conversation_id)
        target = find_visible(tx.session, actor.principal, into)
        if source is None or target is None:
            raise NotFound.of("conversation")
        if source.merged_into_id is not None:
            raise Conflict(f"conversation {source.id} is already merged into #{source.merged_into_id}", code="merged")
        if target.merged_into_id is not None:
            raise Conflict(f"conversation {target.id} is merged into #{target.merged_into_id}; merge into that one", code="merged")
        moved = tx.conn.execute(update(Message).where(Message.conversation_id == source.id).values(conversation_id=target.id)).rowcount
        # Conversations merged into the source earlier now lead straight to the target.
        tx.conn.execute(update(Conversation).where(Conversation.merged_into_id == source.id).values(merged_into_id=target.id))
        last = max(source.last_message_at, target.last_message_at)
        tx.conn.execute(
            update(Conversation)
            .where(Conversation.id == source.id)
            .values(merged_into_id=target.id, status="resolved", resolved_at=tx.now, snoozed_until=None, updated_at=tx.now)
        )
        tx.conn.execute(update(Conversation).where(Conversation.id == target.id).values(last_message_at=last, updated_at=tx.now))
        tx.event("conversation.merged", {"conversation_id": source.id, "into": target.id, "moved": moved, "by": actor.name}, source.id)
        tx.event("conversation.merged_here", {"conversation_id": target.id, "from": source.id, "moved": moved, "by": actor.name}, target.id)
        tx.audit("conversation.merge", f"conversation:{source.id}", {"into": target.id, "moved": moved})
        return Merged(source.id, target.id, moved)

    return await perform(ctx.db, ctx.bus, actor, work)


async def split_conversation(ctx: Context, actor: Actor, message_id: int) -> Split:
    """Start a new conversation (same contact and channel) at this message: it and every
    later message of its conversation move there."""

    def work(tx: Tx) -> Split:
        message = tx.session.get(Message, message_id)
        source = find_visible(tx.session, actor.principal, message.conversation_id) if message is not None else None
        if message is None or source is None:
            raise NotFound.of("message")
        if source.merged_into_id is not None:
            raise Conflict(f"conversation {source.id} is merged into #{source.merged_into_id}", code="merged")
        first = tx.session.scalar(select(func.min(Message.id)).where(Message.conversation_id == source.id))
        if first == message.id:
            raise Invalid("the conversation starts at this message: nothing would be left to split from")
        [new_id] = insert_ids(
            tx.conn,
            Conversation.__table__,
            [
                {
                    "channel_id": source.channel_id,
                    "contact_id": source.contact_id,
                    "thread_key": source.thread_key,
                    "subject": message.subject or source.subject,
                    "status": "open",
                    "team_id": source.team_id,
                    "priority": source.priority,
                    "tags": list(source.tags or []),
                    "meta": dict(source.meta or {}),
                    "last_message_at": tx.now,
                    "created_at": tx.now,
                    "updated_at": tx.now,
                }
            ],
        )
        moved = tx.conn.execute(
            update(Message).where(Message.conversation_id == source.id, Message.id >= message.id).values(conversation_id=new_id)
        ).rowcount
        tx.conn.execute(update(Conversation).where(Conversation.id == source.id).values(updated_at=tx.now))
        tx.event("conversation.created", {"conversation_id": new_id, "split_from": source.id, "by": actor.name}, new_id)
        details = {"conversation_id": new_id, "from": source.id, "message_id": message.id, "moved": moved, "by": actor.name}
        tx.event("conversation.split", details, source.id)
        tx.event("conversation.split_here", details, new_id)
        tx.audit("conversation.split", f"conversation:{source.id}", {"into": new_id, "message_id": message.id, "moved": moved})
        return Split(new_id, source.id, moved)

    return await perform(ctx.db, ctx.bus, actor, work)
