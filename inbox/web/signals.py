"""Signals an agent sends about a conversation (typing, viewing), never stored: the API's
stream and typing route and the UI's presence route send them alike."""

from __future__ import annotations

from sqlalchemy import select

from inbox.auth import Principal
from inbox.runtime.services import Services
from inbox.store.models import Channel, Conversation


async def typing_signal(svc: Services, who: Principal, conversation_id: int, kind: str = "typing") -> None:
    """Tell the other agents (and, on a widget, the visitor) that `who` is typing/viewing.
    The caller has checked that `who` may see the conversation."""
    async with svc.db.read() as session:
        row = (
            await session.execute(
                select(Conversation.thread_key, Channel.name, Channel.type)
                .join(Channel, Channel.id == Conversation.channel_id)
                .where(Conversation.id == conversation_id)
            )
        ).first()
    if row is None:
        return
    await svc.bus.signal(
        {
            "kind": kind,
            "from": "agent",
            "conversation_id": conversation_id,
            "agent_id": who.agent_id,
            "author": who.name,
            "channel": row.name,
            "channel_type": row.type,
            "thread_key": row.thread_key,
        }
    )
