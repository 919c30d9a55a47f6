"""The ingest pipeline on SQLite and PostgreSQL: idempotency, contacts, threading, quarantine."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from channels.base import InboundAttachment, InboundMessage
from inbox.pipeline.ingest import normalise
from inbox.runtime.services import Services
from inbox.store.models import (
    Attachment,
    Blob,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Event,
    Message,
    QuarantineItem,
)
from tests.fixtures.inbox import add_channel, inbound


async def count(services: Services, model: type) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_new_message_creates_contact_conversation_and_events(services: Services) -> None:
    channel = await add_channel(services)
    [result] = await services.ingestor.ingest(channel, [inbound("m1", name="Ana", subject="Help", language="es")])
    assert result.message_id and result.conversation_id and not result.duplicate
    async with services.db.read() as session:
        message = await session.get(Message, result.message_id)
        conversation = await session.get(Conversation, result.conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
        kinds = list(await session.scalars(select(Event.type).order_by(Event.seq)))
    assert message.text == "Hello" and message.direction == "in"
    assert conversation.status == "open" and conversation.subject == "Help"
    assert (contact.name, contact.email, contact.language) == ("Ana", "ana@example.com", "es")
    assert kinds == ["conversation.created", "message.created"]


async def test_redelivered_message_is_stored_once(services: Services) -> None:
    channel = await add_channel(services)
    first = await services.ingestor.ingest(channel, [inbound("m1")])
    again = await services.ingestor.ingest(channel, [inbound("m1"), inbound("m1")])
    assert again[0].duplicate and again[0].message_id == first[0].message_id
    assert await count(services, Message) == 1
    assert await count(services, Event) == 2  # nothing new for the duplicate


async def test_concurrent_duplicate_delivery_stores_each_message_once(services: Services) -> None:
    channel = await add_channel(services)
    batch = [inbound(f"m{i}", sender=f"user{i % 5}@example.com", thread_key=f"t{i % 5}") for i in range(20)]
    results = await asyncio.gather(*(services.ingestor.ingest(channel, batch) for _ in range(8)))
    assert await count(services, Message) == 20
    assert await count(services, Contact) == 5
    assert await count(services, Conversation) == 5
    # Every delivery reports the same stored message for the same external id.
    for i in range(20):
        assert len({r[i].message_id for r in results}) == 1


async def test_same_thread_key_continues_the_open_conversation(services: Services) -> None:
    channel = await add_channel(services)
    [a] = await services.ingestor.ingest(channel, [inbound("m1", thread_key="chat-1")])
    [b] = await services.ingestor.ingest(channel, [inbound("m2", thread_key="chat-1")])
    [c] = await services.ingestor.ingest(channel, [inbound("m3", thread_key="chat-2")])
    assert a.conversation_id == b.conversation_id != c.conversation_id


async def test_thread_key_of_a_resolved_conversation_opens_a_new_one(services: Services) -> None:
    channel = await add_channel(services)
    [a] = await services.ingestor.ingest(channel, [inbound("m1", thread_key="chat-1")])
    async with services.db.transaction() as session:
        (await session.get(Conversation, a.conversation_id)).status = "resolved"
    [b] = await services.ingestor.ingest(channel, [inbound("m2", thread_key="chat-1")])
    assert b.conversation_id != a.conversation_id


async def test_reply_by_reference_reopens_a_resolved_conversation(services: Services) -> None:
    channel = await add_channel(services)
    [a] = await services.ingestor.ingest(channel, [inbound("<id1@example.com>", subject="Printer")])
    async with services.db.transaction() as session:
        (await session.get(Conversation, a.conversation_id)).status = "resolved"
    [b] = await services.ingestor.ingest(channel, [inbound("<id2@example.com>", references=("<id1@example.com>",))])
    [c] = await services.ingestor.ingest(channel, [inbound("<id3@example.com>", subject="Another topic")])
    assert b.conversation_id == a.conversation_id
    assert c.conversation_id != a.conversation_id  # a new subject opens a new conversation
    async with services.db.read() as session:
        assert (await session.get(Conversation, a.conversation_id)).status == "open"


async def test_messages_in_one_batch_share_a_new_thread(services: Services) -> None:
    channel = await add_channel(services)
    results = await services.ingestor.ingest(channel, [inbound("m1", thread_key="k"), inbound("m2", thread_key="k")])
    assert results[0].conversation_id == results[1].conversation_id
    async with services.db.read() as session:
        created = await session.scalar(select(func.count()).where(Event.type == "conversation.created"))
    assert created == 1


async def test_verified_email_merges_the_contact_across_channels(services: Services) -> None:
    mail = await add_channel(services, "mail")
    chat = await add_channel(services, "chat")
    [a] = await services.ingestor.ingest(mail, [inbound("m1", sender="ana@example.com", email="Ana@Example.com")])
    [b] = await services.ingestor.ingest(chat, [inbound("c1", sender="visitor-7", email="ana@example.com")])
    [c] = await services.ingestor.ingest(chat, [inbound("c2", sender="visitor-8", email="ana@example.com", verified=False)])
    async with services.db.read() as session:
        owners = {
            r.address: r.contact_id for r in (await session.execute(select(ContactIdentity.address, ContactIdentity.contact_id))).all()
        }
    assert owners["ana@example.com"] == owners["visitor-7"]
    assert owners["visitor-8"] != owners["ana@example.com"]  # an unverified claim does not merge
    assert a.conversation_id != b.conversation_id != c.conversation_id


async def test_html_is_sanitised_before_storage(services: Services) -> None:
    channel = await add_channel(services)
    html = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:evil()">link</a><img src=x onerror=alert(2)></p>'
    [r] = await services.ingestor.ingest(channel, [inbound("m1", html=html)])
    async with services.db.read() as session:
        stored = (await session.get(Message, r.message_id)).html
    assert "<p>" in stored and "Hi" in stored
    for bad in ("script", "onclick", "javascript:", "onerror"):
        assert bad not in stored


async def test_attachments_and_raw_are_stored_once_by_content(services: Services) -> None:
    channel = await add_channel(services)
    pdf = InboundAttachment("invoice.pdf", "application/pdf", b"%PDF-1.4 same bytes")
    await services.ingestor.ingest(channel, [inbound("m1", attachments=(pdf,), raw=b"raw-1"), inbound("m2", attachments=(pdf,), raw=b"raw-1")])
    assert await count(services, Attachment) == 2
    assert await count(services, Blob) == 2  # the pdf and the raw original, each once


async def test_edit_updates_text_and_keeps_the_original(services: Services) -> None:
    channel = await add_channel(services)
    [r] = await services.ingestor.ingest(channel, [inbound("m1", text="helo")])
    await services.ingestor.ingest(channel, [inbound("m1:e1", text="hello", kind="edit", target_external_id="m1")])
    await services.ingestor.ingest(channel, [inbound("m1:e2", text="hello!", kind="edit", target_external_id="m1")])
    await services.ingestor.ingest(channel, [inbound("m1:d", text="", kind="delete", target_external_id="m1")])
    async with services.db.read() as session:
        message = await session.get(Message, r.message_id)
    assert (message.text, message.original_text) == ("hello!", "helo")
    assert message.edited_at is not None and message.deleted_at is not None


async def test_invalid_message_is_quarantined_and_the_rest_of_the_batch_stored(services: Services) -> None:
    channel = await add_channel(services)
    results = await services.ingestor.ingest(channel, [inbound("ok-1"), inbound("", text="no id"), inbound("x" * 600)])
    assert [r.quarantined for r in results] == [False, True, True]
    assert await count(services, Message) == 1
    assert await count(services, QuarantineItem) == 2


async def test_cursor_commits_with_the_messages(services: Services) -> None:
    channel = await add_channel(services)
    await services.ingestor.ingest(channel, [inbound("m1")], cursor='{"uid": 7}')
    assert await services.ingestor.cursor(channel) == '{"uid": 7}'
    await services.ingestor.ingest(channel, [], cursor='{"uid": 9}')
    async with services.db.read() as session:
        assert (await session.scalar(select(Channel.cursor).where(Channel.id == channel.id))) == '{"uid": 9}'


async def test_event_seq_grows_with_commit_order(services: Services) -> None:
    channel = await add_channel(services)
    await asyncio.gather(*(services.ingestor.ingest(channel, [inbound(f"m{i}", thread_key=f"k{i}")]) for i in range(30)))
    async with services.db.read() as session:
        rows = (await session.execute(select(Event.seq, Event.payload).where(Event.type == "message.created").order_by(Event.seq))).all()
    message_ids = [r.payload["message_id"] for r in rows]
    assert len(rows) == 30 and message_ids == sorted(message_ids)


def test_a_clean_message_is_kept_as_it_is() -> None:
    message = inbound("m1", subject="Help", thread_key="t1", references=("<a@x>",), meta={"chat": 7, "ids": [1, 2]})
    assert normalise(message) is message


@pytest.mark.parametrize(
    "dirty",
    [
        inbound("m\x001", text="a\x00b"),
        inbound("m1", subject="s" * 1000),
        inbound("m1", thread_key="k" * 300),
        inbound("m1", references=("", "<a@x>")),
        inbound("m1", name="n" * 300),
        inbound("m1", meta={"k": "v\x00", 1: (2, 3)}),
        inbound("m1", attachments=(InboundAttachment("f\x00.txt", "text/plain", b"x"),)),
    ],
)
def test_a_message_that_needs_cleaning_is_cleaned(dirty: InboundMessage) -> None:
    clean = normalise(dirty)
    assert clean != dirty and normalise(clean) == clean
    assert "\\x00" not in repr(clean)  # repr escapes NUL, so this finds one anywhere
    assert len(clean.subject or "") <= 998 and len(clean.thread_key or "") <= 255 and len(clean.sender.name or "") <= 255
    assert all(clean.references) and all(isinstance(k, str) for k in clean.meta)
