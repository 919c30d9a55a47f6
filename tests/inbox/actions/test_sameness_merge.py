"""Merge, split and cancelling a scheduled reply: the same action from the API and the UI."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from inbox.store.models import Conversation, Message, utcnow
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_merge_is_one_action(surfaces: Surfaces, surface: str) -> None:
    services = surfaces.api.services
    mail, chat = await add_channel(services, "mail"), await add_channel(services, "chat")
    [a] = await services.ingestor.ingest(mail, [inbound("<m1@x>", subject="Invoice wrong")])
    [b] = await services.ingestor.ingest(chat, [inbound("c1", sender="ana-chat", subject="Hello")])
    assert a.conversation_id and b.conversation_id
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/conversations/{b.conversation_id}/merge", json={"into": a.conversation_id})
        assert response.status_code == 200, response.text
    else:
        response = await surfaces.form(f"/conversations/{b.conversation_id}/merge", {"into": str(a.conversation_id)})
        assert response.status_code == 303
    async with services.db.read() as session:
        merged = await session.get(Conversation, b.conversation_id)
        moved = await session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == a.conversation_id))
    assert merged is not None and merged.merged_into_id == a.conversation_id and merged.status == "resolved" and moved == 2
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target) == ("conversation.merge", f"conversation:{b.conversation_id}")
    assert entry.details["into"] == a.conversation_id


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_split_is_one_action(surfaces: Surfaces, surface: str) -> None:
    services = surfaces.api.services
    mail = await add_channel(services, "mail")
    results = await services.ingestor.ingest(mail, [inbound(f"<m{i}@x>", text=f"part {i}", thread_key="t") for i in range(3)])
    cid = results[0].conversation_id
    async with services.db.read() as session:
        ids = list(await session.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/messages/{ids[1]}/split")
        assert response.status_code == 201, response.text
    else:
        response = await surfaces.form(f"/messages/{ids[1]}/split")
        assert response.status_code == 303
    async with services.db.read() as session:
        left = list(await session.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
        new_id = await session.scalar(select(Message.conversation_id).where(Message.id == ids[1]))
    assert left == ids[:1] and new_id != cid
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target) == ("conversation.split", f"conversation:{cid}")


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_cancelling_a_scheduled_reply_is_one_action_and_refused_alike_once_cancelled(surfaces: Surfaces, surface: str) -> None:
    services = surfaces.api.services
    mail = await add_channel(services, "mail")
    [q] = await services.ingestor.ingest(mail, [inbound("<q@x>", text="When?")])
    send_at = (utcnow() + dt.timedelta(hours=2)).isoformat()
    posted = await surfaces.call(
        "POST", f"/api/v1/conversations/{q.conversation_id}/messages", json={"text": "Tomorrow.", "send_at": send_at}
    )
    assert posted.status_code == 201, posted.text
    message_id = posted.json()["id"]

    async def cancel() -> int:
        if surface == "api":
            return (await surfaces.call("DELETE", f"/api/v1/messages/{message_id}")).status_code
        return (await surfaces.form(f"/messages/{message_id}/cancel")).status_code

    assert await cancel() in (204, 303)
    async with services.db.read() as session:
        assert (await session.get(Message, message_id)).delivery == "cancelled"  # type: ignore[union-attr]
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target) == ("message.cancel", f"message:{message_id}")
    before = await surfaces.audit_actions()
    assert await cancel() == 409
    assert await surfaces.audit_actions() == before
