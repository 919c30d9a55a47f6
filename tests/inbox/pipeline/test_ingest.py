"""The ingest pipeline on SQLite and PostgreSQL: idempotency, contacts, threading, quarantine."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update

from channels.base import InboundAttachment, InboundMessage, Sender
from channels.email_parse import ParseOptions, parse_email
from inbox.actions import contacts, replies
from inbox.actions.runner import Actor
from inbox.pipeline.inbound_text import repair_text
from inbox.pipeline.ingest import ChannelRef, Feed, normalise
from inbox.pipeline.ingest_faults import is_message_fault
from inbox.pipeline.tickets import open_ticket
from inbox.runtime.services import Services
from inbox.store.leases import Fence, LeaseLost
from inbox.store.models import (
    Attachment,
    Blob,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Event,
    Message,
    OutboxItem,
    QuarantineItem,
    Ticket,
)
from tests.fixtures.inbox import add_channel, inbound
from tests.inbox.pipeline.poison import MARK, refuse_marked_messages


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
    await services.ingestor.ingest(
        channel, [inbound("m1", attachments=(pdf,), raw=b"raw-1"), inbound("m2", attachments=(pdf,), raw=b"raw-1")]
    )
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


# -- a message the store refuses ---------------------------------------------------------


async def test_a_message_the_store_refuses_is_quarantined_and_the_rest_of_the_batch_stored(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    channel = await add_channel(services, "inbound")
    await refuse_marked_messages(services)
    batch = [
        inbound("ok-1"),
        inbound("bad-1", text=f"x {MARK} y"),
        inbound("ok-2", sender="luis@example.com"),
    ]
    with caplog.at_level(logging.WARNING, logger="inbox.pipeline.ingest"):
        results = await services.ingestor.ingest(channel, batch, cursor="7")
    assert [r.quarantined for r in results] == [False, True, False]
    assert [r.external_id for r in results] == ["ok-1", "bad-1", "ok-2"]
    assert results[0].message_id and results[2].message_id and results[1].message_id is None
    assert await services.ingestor.cursor(channel) == "7"  # the adapter may ack its source
    async with services.db.read() as session:
        stored = list(await session.scalars(select(Message.external_id).order_by(Message.id)))
        [held] = (await session.scalars(select(QuarantineItem))).all()
    assert stored == ["ok-1", "ok-2"]
    assert held.external_id == "bad-1" and held.channel_id == channel.id and MARK.encode() in held.raw
    assert "test_refused" in held.error
    assert any("inbound" in r.getMessage() and "bad-1" in r.getMessage() and "quarantined" in r.getMessage() for r in caplog.records)
    # Delivered again (the adapter crashed before its ack): nothing new anywhere.
    again = await services.ingestor.ingest(channel, batch, cursor="7")
    assert [r.duplicate for r in again] == [True, False, True] and again[1].quarantined
    assert await count(services, Message) == 2 and await count(services, QuarantineItem) == 1


async def test_a_refused_message_alone_in_its_batch_moves_the_cursor(services: Services) -> None:
    channel = await add_channel(services)
    await refuse_marked_messages(services)
    [result] = await services.ingestor.ingest(channel, [inbound("bad", text=MARK)], cursor="12")
    assert result.quarantined
    assert await services.ingestor.cursor(channel) == "12"
    [later] = await services.ingestor.ingest(channel, [inbound("next")], cursor="13")
    assert later.message_id is not None and not later.quarantined


async def test_a_lost_lease_is_not_blamed_on_a_message(services: Services) -> None:
    channel = await add_channel(services)
    stale = Fence(channel.id, "another-node", 99)
    with pytest.raises(LeaseLost):
        await services.ingestor.ingest(channel, [inbound("m1"), inbound("m2")], fence=stale)
    assert await count(services, QuarantineItem) == 0 and await count(services, Message) == 0


@pytest.mark.parametrize(
    ("error", "blamed"),
    [
        (sa_exc.OperationalError("INSERT", {}, Exception("database is locked")), False),
        (sa_exc.InterfaceError("INSERT", {}, Exception("connection was closed")), False),
        (ConnectionResetError("reset by peer"), False),
        (LeaseLost("gone"), False),
        (sa_exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed")), True),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (TypeError("Object of type datetime is not JSON serializable"), True),
    ],
)
def test_only_what_a_message_holds_is_blamed_on_it(error: Exception, blamed: bool) -> None:
    assert is_message_fault(error) is blamed


# -- every text valid Unicode -------------------------------------------------------------

LONE = "\ud83d"  # half an emoji, as a JSON "\ud83d" escape decodes
ESCAPED = "Jos\udce9"  # "José" in Latin-1 header bytes, as the email package keeps them


def _with_surrogates_in(field_name: str) -> InboundMessage:
    base = inbound("m1", name="Ana", subject="Help", thread_key="t1", references=("<r@x>",), meta={"k": "v"})
    sender = dataclasses.replace(base.sender, username="ana")
    changes: dict[str, object] = {
        "text": {"text": f"hi {LONE} there"},
        "html": {"html": f"<p>{ESCAPED}</p>"},
        "subject": {"subject": f"Re: {ESCAPED}"},
        "external_id": {"external_id": f"<{LONE}@x>"},
        "thread_key": {"thread_key": f"t-{LONE}"},
        "references": {"references": (f"<{ESCAPED}@x>",)},
        "meta": {"meta": {"to": [f"{ESCAPED} <j@x>"], f"k{LONE}": {"deep": LONE}}},
        "attachment": {"attachments": (InboundAttachment(f"{ESCAPED}.pdf", "application/pdf", b"%PDF"),)},
        "sender.name": {"sender": dataclasses.replace(sender, name=ESCAPED, address="jose@example.com", email="jose@example.com")},
        "sender.address": {"sender": dataclasses.replace(sender, address=f"{ESCAPED}@example.com")},
        "sender.email": {"sender": dataclasses.replace(sender, email=f"{ESCAPED}@example.com")},
        "sender.username": {"sender": dataclasses.replace(sender, username=f"u{LONE}")},
    }[field_name]
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


SURROGATE_FIELDS = [
    "text",
    "html",
    "subject",
    "external_id",
    "thread_key",
    "references",
    "meta",
    "attachment",
    "sender.name",
    "sender.address",
    "sender.email",
    "sender.username",
]


@pytest.mark.parametrize("field_name", SURROGATE_FIELDS)
def test_lone_surrogates_are_repaired_in_every_field(field_name: str) -> None:
    clean = normalise(_with_surrogates_in(field_name))
    shown = repr(dataclasses.asdict(clean))
    assert "\\ud8" not in shown and "\\udc" not in shown and "\\udb" not in shown
    json.dumps(dataclasses.asdict(clean), default=repr).encode("utf-8")  # no surrogate left anywhere
    if field_name in ("html", "subject", "sender.name"):
        assert "José" in shown  # escaped Latin-1 bytes are decoded, not dropped
    assert normalise(clean) == clean


def test_text_repair_joins_pairs_decodes_escaped_bytes_and_replaces_the_rest() -> None:
    assert repair_text("plain ascii") == "plain ascii"
    assert repair_text("\ud83d\ude00") == "😀"  # a pair split in two code points
    assert repair_text("\udcc3\udca9t\udce9") == "été"  # UTF-8 bytes, then a Windows-1252 one
    assert repair_text("\udc80 price") == "€ price"
    assert repair_text(f"a{LONE}b\x00c") == "a\ufffdbc"


async def test_a_message_with_lone_surrogates_everywhere_is_stored(services: Services) -> None:
    channel = await add_channel(services)
    batch = [
        dataclasses.replace(_with_surrogates_in(f), external_id=f"m-{n}") for n, f in enumerate(SURROGATE_FIELDS) if f != "external_id"
    ]
    batch.append(_with_surrogates_in("external_id"))
    results = await services.ingestor.ingest(channel, batch)
    assert all(r.message_id is not None and not r.quarantined for r in results)
    async with services.db.read() as session:
        names = set(await session.scalars(select(Contact.name)))
        texts = set(await session.scalars(select(Message.text)))
        files = set(await session.scalars(select(Attachment.filename)))
    assert "José" in names and "hi \ufffd there" in texts and files == {"José.pdf"}


# -- dedup: a redelivery against a reused Message-ID ---------------------------------------

OPTIONS = ParseOptions(own_domain="frontdesk.local")


def mail(
    msgid: str,
    body: str,
    *,
    sender: str = "ana@example.com",
    hop: str = "mx1.example.net",
    subject: str = "Question",
) -> bytes:
    return (
        f"Received: from {hop} by mail.frontdesk.local; Mon, 3 Jun 2024 10:00:00 +0000\r\n"
        f"From: Ana <{sender}>\r\nTo: support@frontdesk.local\r\nSubject: {subject}\r\n"
        f"Date: Mon, 3 Jun 2024 09:59:00 +0000\r\nMessage-ID: <{msgid}>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


async def test_mails_reusing_message_ids_are_each_stored_once(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    channel = await add_channel(services, "mail", "email")
    # 41 different mails under 10 Message-IDs, as a broken mailer or a ticket system sends them.
    raws = [mail(f"id-{i % 10}@mailer.example.com", f"Message number {i}") for i in range(41)]
    with caplog.at_level(logging.INFO, logger="inbox.pipeline.ingest"):
        first = await services.ingestor.ingest(channel, [parse_email(r, OPTIONS) for r in raws[:20]])
        second = await services.ingestor.ingest(channel, [parse_email(r, OPTIONS) for r in raws[20:]])
    assert not any(r.duplicate or r.quarantined for r in first + second)
    assert len({r.message_id for r in first + second}) == 41
    assert any("id-3@mailer.example.com" in r.getMessage() for r in caplog.records)
    # Everything delivered again, in other batches: nothing new.
    again = await services.ingestor.ingest(channel, [parse_email(r, OPTIONS) for r in reversed(raws)])
    assert all(r.duplicate for r in again)
    assert sorted(r.message_id for r in again) == sorted(r.message_id for r in first + second)
    assert await count(services, Message) == 41
    async with services.db.read() as session:
        ids = list(await session.scalars(select(Message.external_id).order_by(Message.id)))
    assert ids[0] == "id-0@mailer.example.com" and ids[10].startswith("id-0@mailer.example.com#")


async def test_the_same_mail_through_another_hop_is_a_duplicate(services: Services) -> None:
    channel = await add_channel(services, "mail", "email")
    [a] = await services.ingestor.ingest(channel, [parse_email(mail("same@example.com", "Hi"), OPTIONS)])
    [b] = await services.ingestor.ingest(channel, [parse_email(mail("same@example.com", "Hi", hop="mx2.example.net"), OPTIONS)])
    assert b.duplicate and b.message_id == a.message_id
    assert await count(services, Message) == 1


async def test_a_reply_to_a_reused_message_id_threads_with_the_first_mail(
    services: Services,
) -> None:
    channel = await add_channel(services, "mail", "email")
    [a] = await services.ingestor.ingest(channel, [parse_email(mail("dup@example.com", "first"), OPTIONS)])
    [b] = await services.ingestor.ingest(channel, [parse_email(mail("dup@example.com", "second", subject="Other"), OPTIONS)])
    [c] = await services.ingestor.ingest(channel, [inbound("<answer@example.com>", references=("dup@example.com",))])
    assert b.message_id != a.message_id and b.external_id.startswith("dup@example.com#")
    assert c.conversation_id == a.conversation_id


# -- bounces of our replies ---------------------------------------------------------------


async def _answered(services: Services) -> tuple[ChannelRef, int, int, str]:
    """A customer's mail and our queued reply: (channel, conversation, reply id, outbox key)."""
    channel = await add_channel(services, "mail", "email")
    [question] = await services.ingestor.ingest(channel, [parse_email(mail("q1@example.com", "Where is my order?"), OPTIONS)])
    assert question.conversation_id is not None
    reply_id = await replies.send_reply(services.ctx, Actor.system("test"), question.conversation_id, "It left today.")
    async with services.db.read() as session:
        key = await session.scalar(select(OutboxItem.idempotency_key).where(OutboxItem.message_id == reply_id))
    assert key is not None
    return channel, question.conversation_id, reply_id, key


def bounce(original: str | None, *, action: str = "failed", external_id: str = "<dsn-1@mx.example.net>") -> InboundMessage:
    report = {
        "recipients": [
            {
                "address": "ana@example.com",
                "action": action,
                "status": "5.1.1",
                "diagnostic": "smtp; 550 5.1.1 <ana@example.com>: User unknown",
            }
        ],
        "original_message_id": original,
    }
    return InboundMessage(
        external_id=external_id,
        sender=Sender(
            "mailer-daemon@mx.example.net",
            name="Mail Delivery System",
            email="mailer-daemon@mx.example.net",
        ),
        text="Your message could not be delivered.",
        subject="Undelivered Mail Returned to Sender",
        automated=True,
        meta={"message_id": external_id.strip("<>"), "bounce": report},
    )


@pytest.mark.parametrize("sent", [True, False], ids=["after-the-outbox-recorded-it", "before"])
async def test_a_bounce_fails_the_reply_it_reports_and_joins_its_conversation(services: Services, sent: bool) -> None:
    channel, conversation_id, reply_id, key = await _answered(services)
    if sent:  # what the outbox records once SMTP accepted the reply
        async with services.db.transaction() as session:
            await session.execute(
                update(Message).where(Message.id == reply_id).values(delivery="sent", external_id=f"{key}@frontdesk.local")
            )
    async with services.db.read() as session:
        before = await session.scalar(select(func.max(Event.seq)))
    [result] = await services.ingestor.ingest(channel, [bounce(f"<{key}@frontdesk.local>")])
    assert result.conversation_id == conversation_id
    async with services.db.read() as session:
        reply = await session.get(Message, reply_id)
        updates = [e.payload for e in await session.scalars(select(Event).where(Event.seq > before, Event.type == "message.updated"))]
        conversations = await session.scalar(select(func.count()).select_from(Conversation))
    assert reply is not None and reply.delivery == "failed"
    assert "ana@example.com" in (reply.delivery_error or "") and "User unknown" in (reply.delivery_error or "")
    assert {
        "message_id": reply_id,
        "conversation_id": conversation_id,
        "delivery": "failed",
    } in updates
    assert conversations == 1


async def test_a_delay_report_joins_the_conversation_but_fails_nothing(services: Services) -> None:
    channel, conversation_id, reply_id, key = await _answered(services)
    [result] = await services.ingestor.ingest(channel, [bounce(f"<{key}@frontdesk.local>", action="delayed")])
    assert result.conversation_id == conversation_id
    async with services.db.read() as session:
        assert (await session.get(Message, reply_id)).delivery == "queued"  # type: ignore[union-attr]


async def test_a_bounce_of_a_mail_we_never_sent_is_stored_on_its_own(services: Services) -> None:
    channel, conversation_id, reply_id, _ = await _answered(services)
    results = await services.ingestor.ingest(
        channel,
        [
            bounce("<0123456789abcdef0123456789abcdef@frontdesk.local>"),
            bounce(None, external_id="<dsn-2@mx.example.net>"),
        ],
    )
    assert all(r.conversation_id not in (None, conversation_id) for r in results)
    async with services.db.read() as session:
        assert (await session.get(Message, reply_id)).delivery == "queued"  # type: ignore[union-attr]


# -- a ticket number continues only its own contact's conversation --------------------------


async def _ticket(services: Services, channel: ChannelRef, sender: str) -> tuple[int, int]:
    [first] = await services.ingestor.ingest(channel, [inbound("<t1@example.com>", sender=sender, subject="Invoice wrong")])
    assert first.conversation_id is not None
    conversation_id = first.conversation_id
    feed: Feed = []
    await services.db.run(lambda conn: open_ticket(conn, conversation_id, "request", services.policy, feed, notify=False))
    async with services.db.read() as session:
        number = await session.scalar(select(Ticket.number).where(Ticket.conversation_id == conversation_id))
    assert number is not None
    return conversation_id, number


async def test_a_ticket_number_from_another_sender_opens_a_new_conversation(
    services: Services,
) -> None:
    channel = await add_channel(services, "mail", "email")
    conversation_id, number = await _ticket(services, channel, "ana@example.com")
    subject = f"Re: Invoice wrong [#{number}]"
    [stranger] = await services.ingestor.ingest(
        channel,
        [
            inbound(
                "<x1@evil.example>",
                sender="mallory@evil.example",
                subject=subject,
                ticket_number=number,
            )
        ],
    )
    [customer] = await services.ingestor.ingest(
        channel,
        [inbound("<t2@example.com>", sender="ana@example.com", subject=subject, ticket_number=number)],
    )
    # A colleague in the thread (our References in their reply) still continues it.
    [colleague] = await services.ingestor.ingest(
        channel,
        [
            inbound(
                "<c1@example.com>",
                sender="boss@example.com",
                subject=subject,
                ticket_number=number,
                references=("<t1@example.com>",),
            )
        ],
    )
    assert stranger.conversation_id != conversation_id
    assert customer.conversation_id == conversation_id and colleague.conversation_id == conversation_id
    async with services.db.read() as session:
        opened = await session.get(Conversation, stranger.conversation_id)
    assert opened is not None and f"[#{number}]" in (opened.subject or "")


async def test_a_ticket_number_from_a_contact_merged_with_the_customer_continues_it(
    services: Services,
) -> None:
    mail_channel = await add_channel(services, "mail", "email")
    chat = await add_channel(services, "chat", "widget")
    conversation_id, number = await _ticket(services, mail_channel, "ana@example.com")
    [other] = await services.ingestor.ingest(chat, [inbound("v1", sender="visitor-9", text="hi", verified=False)])
    async with services.db.read() as session:
        ana = await session.scalar(select(Conversation.contact_id).where(Conversation.id == conversation_id))
        visitor = await session.scalar(select(Conversation.contact_id).where(Conversation.id == other.conversation_id))
    assert visitor is not None and ana is not None
    await contacts.merge_contacts(services.ctx, Actor.system("test"), visitor, ana)
    [again] = await services.ingestor.ingest(
        mail_channel,
        [
            inbound(
                "<t3@example.com>",
                sender="ana@example.com",
                subject=f"[#{number}]",
                ticket_number=number,
            )
        ],
    )
    assert again.conversation_id == conversation_id
