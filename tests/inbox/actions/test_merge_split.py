"""Merging conversations (across channels) and splitting one at a message."""

from __future__ import annotations

from sqlalchemy import select

from inbox.pipeline.ingest import ChannelRef
from inbox.pipeline.outbox import OutboxWorker
from inbox.store.models import AuditEntry, Conversation, Event, Message, OutboxItem, Team
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound
from tests.fixtures.recording_channel import RecordingChannel
from tests.inbox.pipeline.test_outbox import FAST, drain


async def two_channels(api: Api) -> tuple[int, int, int, int]:
    """Ana writes by email (conversation A) and then on chat (conversation B)."""
    mail = await add_channel(api.services, "mail")
    chat = await add_channel(api.services, "chat")
    [a] = await api.services.ingestor.ingest(mail, [inbound("<m1@x>", subject="Invoice wrong", thread_key="<m1@x>")])
    [b] = await api.services.ingestor.ingest(chat, [inbound("c1", sender="ana-chat", email="ana@example.com", thread_key="chat-7")])
    return mail.id, chat.id, a.conversation_id, b.conversation_id


async def test_merge_moves_messages_keeps_channels_and_the_reply_goes_on_the_latest_customer_channel(api: Api) -> None:
    mail_id, chat_id, a, b = await two_channels(api)
    headers = api.auth(api.admin_token)
    merged = await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=headers)
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"] == 1 and merged.json()["into"]["id"] == a
    async with api.services.db.read() as session:
        rows = (await session.execute(select(Message.conversation_id, Message.channel_id).order_by(Message.id))).all()
        assert [tuple(r) for r in rows] == [(a, mail_id), (a, chat_id)]
        source = await session.get(Conversation, b)
        assert source.merged_into_id == a and source.status == "resolved"
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "conversation.merge"))
        assert audit.target == f"conversation:{b}" and audit.details["into"] == a
        types = {(e.type, e.conversation_id) for e in await session.scalars(select(Event))}
        assert ("conversation.merged", b) in types and ("conversation.merged_here", a) in types
    shown = (await api.client.get(f"/api/v1/conversations/{b}", headers=headers)).json()
    assert shown["merged_into"] == a
    # The customer last wrote on chat: the reply goes there, to their chat address, in the chat's thread.
    reply = await api.client.post(f"/api/v1/conversations/{a}/messages", json={"text": "Fixed"}, headers=headers)
    assert reply.status_code == 201 and reply.json()["channel"] == "chat"
    mail_end, chat_end = RecordingChannel("mail"), RecordingChannel("chat")
    ends = {mail_id: mail_end, chat_id: chat_end}
    await drain(OutboxWorker(api.services.db, api.services.bus, ends.get, FAST))
    [sent] = chat_end.sent
    assert not mail_end.sent
    assert sent.recipient.address == "ana-chat" and sent.thread_key == "chat-7" and sent.references == ("c1",)
    # Replying to the merged conversation is refused.
    refused = await api.client.post(f"/api/v1/conversations/{b}/messages", json={"text": "x"}, headers=headers)
    assert refused.status_code == 409


async def test_a_reply_after_merge_goes_by_default_on_the_targets_channel_when_the_customer_wrote_there_last(api: Api) -> None:
    mail_id, chat_id, a, b = await two_channels(api)
    headers = api.auth(api.admin_token)
    assert (await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=headers)).status_code == 200
    [again] = await api.services.ingestor.ingest(
        ChannelRef(mail_id, "mail", "spool"), [inbound("<m2@x>", thread_key="<m1@x>", references=("<m1@x>",))]
    )
    assert again.conversation_id == a
    reply = await api.client.post(f"/api/v1/conversations/{a}/messages", json={"text": "ok"}, headers=headers)
    async with api.services.db.read() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == reply.json()["id"]))
    assert item.channel_id == mail_id


async def test_what_later_arrives_for_the_merged_conversation_lands_in_the_target(api: Api) -> None:
    mail_id, chat_id, a, b = await two_channels(api)
    headers = api.auth(api.admin_token)
    assert (await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=headers)).status_code == 200
    chat = ChannelRef(chat_id, "chat", "spool")
    # Same thread key on the chat channel, and a reference to a moved message.
    [by_thread] = await api.services.ingestor.ingest(chat, [inbound("c2", sender="ana-chat", thread_key="chat-7")])
    [by_reference] = await api.services.ingestor.ingest(chat, [inbound("c3", sender="ana-chat", references=("c1",))])
    assert by_thread.conversation_id == a and by_reference.conversation_id == a
    # A chain: A merged into C leads B's thread to C.
    third = await add_channel(api.services, "third")
    [c] = await api.services.ingestor.ingest(third, [inbound("t1", sender="ana-3", thread_key="t-1")])
    assert (await api.client.post(f"/api/v1/conversations/{a}/merge", json={"into": c.conversation_id}, headers=headers)).status_code == 200
    [later] = await api.services.ingestor.ingest(chat, [inbound("c4", sender="ana-chat", thread_key="chat-7")])
    assert later.conversation_id == c.conversation_id
    async with api.services.db.read() as session:
        assert (await session.get(Conversation, c.conversation_id)).status == "open"
        assert (await session.get(Conversation, b)).merged_into_id == c.conversation_id


async def test_merge_refusals_and_visibility(api: Api) -> None:
    _, _, a, b = await two_channels(api)
    headers = api.auth(api.admin_token)
    _, outsider = await add_agent(api.services, "out@example.com")
    async with api.services.db.transaction() as session:
        team = Team(name="billing")
        session.add(team)
        await session.flush()
        (await session.get(Conversation, a)).team_id = team.id
    hidden = await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=api.auth(outsider))
    assert hidden.status_code == 404
    assert (await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": 99999}, headers=headers)).status_code == 404
    assert (await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": b}, headers=headers)).status_code == 422
    assert (await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=headers)).status_code == 200
    again = await api.client.post(f"/api/v1/conversations/{b}/merge", json={"into": a}, headers=headers)
    assert again.status_code == 409
    async with api.services.db.read() as session:
        assert (await session.get(Conversation, b)).merged_into_id == a
        assert await session.scalar(select(Message.conversation_id).where(Message.external_id == "c1")) == a


async def test_split_moves_the_message_and_every_later_one(api: Api) -> None:
    mail = await add_channel(api.services, "mail")
    results = await api.services.ingestor.ingest(
        mail, [inbound(f"<m{i}@x>", subject="Two topics", text=f"part {i}", thread_key="<m0@x>") for i in range(4)]
    )
    cid = results[0].conversation_id
    assert {r.conversation_id for r in results} == {cid}
    headers = api.auth(api.admin_token)
    async with api.services.db.read() as session:
        ids = list(await session.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
    split = await api.client.post(f"/api/v1/messages/{ids[2]}/split", headers=headers)
    assert split.status_code == 201, split.text
    new = split.json()["conversation"]
    assert split.json()["moved"] == 2 and new["contact"]["id"]
    async with api.services.db.read() as session:
        kept = list(await session.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
        moved = list(await session.scalars(select(Message.id).where(Message.conversation_id == new["id"]).order_by(Message.id)))
        original = await session.get(Conversation, cid)
        created = await session.get(Conversation, new["id"])
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "conversation.split"))
        split_events = list(await session.scalars(select(Event.conversation_id).where(Event.type.like("conversation.split%"))))
    assert kept == ids[:2] and moved == ids[2:]
    assert created.channel_id == original.channel_id and created.contact_id == original.contact_id
    assert audit.details == {"into": new["id"], "message_id": ids[2], "moved": 2}
    assert sorted(split_events) == sorted([cid, new["id"]])
    # Splitting at the first message would leave nothing behind; an unknown or hidden message is 404.
    assert (await api.client.post(f"/api/v1/messages/{ids[0]}/split", headers=headers)).status_code == 422
    assert (await api.client.post("/api/v1/messages/99999/split", headers=headers)).status_code == 404
    _, outsider = await add_agent(api.services, "out@example.com")
    async with api.services.db.transaction() as session:
        team = Team(name="billing")
        session.add(team)
        await session.flush()
        (await session.get(Conversation, cid)).team_id = team.id
    assert (await api.client.post(f"/api/v1/messages/{ids[1]}/split", headers=api.auth(outsider))).status_code == 404
