"""Snoozed conversations wake up: at their time the snooze watch's pass opens them again
(audited, one event each), and not before; a conversation reopened meanwhile is left alone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inbox.actions import conversations as actions
from inbox.actions.runner import Actor
from inbox.store.models import AuditEntry, Conversation, Event, utcnow
from tests.fixtures.inbox import Api, add_channel, inbound


async def test_a_snoozed_conversation_opens_at_its_time_and_not_before(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc)
    [early, late] = await svc.ingestor.ingest(channel, [inbound("s1", thread_key="t1"), inbound("s2", thread_key="t2")])
    now = utcnow()
    actor = Actor.system("test")
    for result, hours in ((early, 1), (late, 5)):
        until = now + dt.timedelta(hours=hours)
        await actions.update_conversation(
            svc.ctx, actor, result.conversation_id, actions.ConversationChanges(status="snoozed", snoozed_until=until)
        )
    assert await actions.wake_snoozed(svc.ctx, now) == []
    assert await actions.wake_snoozed(svc.ctx, now + dt.timedelta(hours=2)) == [early.conversation_id]
    async with svc.db.read() as session:
        woken = await session.get_one(Conversation, early.conversation_id)
        still = await session.get_one(Conversation, late.conversation_id)
        assert (woken.status, woken.snoozed_until) == ("open", None)
        assert still.status == "snoozed"
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.target == f"conversation:{early.conversation_id}").order_by(AuditEntry.id)
            )
        ).all()
        assert (audit[-1].action, audit[-1].agent_id, audit[-1].details) == ("conversation.update", None, {"status": "open"})
        events = (
            await session.scalars(select(Event).where(Event.type == "conversation.updated", Event.conversation_id == early.conversation_id))
        ).all()
        assert events[-1].payload["by"] == "snooze" and events[-1].payload["changes"] == {"status": "open"}
    await actions.update_conversation(svc.ctx, actor, late.conversation_id, actions.ConversationChanges(status="open"))
    assert await actions.wake_snoozed(svc.ctx, now + dt.timedelta(days=1)) == []
