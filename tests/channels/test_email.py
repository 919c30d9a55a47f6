"""The email channel against a real Dovecot and an aiosmtpd server, storing into the inbox.

Each test runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from channels.base import ChannelContext, OutboundAttachment, OutboundMessage, Recipient
from channels.email import Cursor, EmailChannel, EmailConfig
from channels.email_imap import ImapConfig, ImapError, ImapSession
from channels.email_parse import ParseOptions, message_id_of, parse_email
from inbox.actions.replies import send_reply
from inbox.actions.runner import Actor
from inbox.config import OutboxConfig
from inbox.pipeline.ingest import ChannelRef, Feed
from inbox.pipeline.outbox import OutboxWorker
from inbox.pipeline.tickets import open_ticket
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import (
    Attachment,
    Blob,
    Channel,
    Conversation,
    Message,
    OutboxItem,
    QuarantineItem,
    Ticket,
)
from tests.fixtures.dovecot import Dovecot, SmtpSink, dovecot, dovecot_server, smtp_sink  # noqa: F401
from tests.fixtures.inbox import add_agent, add_channel, services  # noqa: F401
from tests.fixtures.services import require

DOMAIN = "frontdesk.test"
CORPUS = Path("/usr/lib/python3.11/test/test_email/data")
FAST_OUTBOX = OutboxConfig(max_attempts=3, base_delay=0.01, max_delay=0.05, lease_seconds=30, concurrency=2)


def mail(
    text: str = "Hello", *, subject: str = "Printer broken", sender: str = "Ana <ana@example.com>", msgid: str | None = None, **headers: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    if msgid:
        msg["Message-ID"] = f"<{msgid}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


@dataclass
class Mailbox:
    services: Services
    ref: ChannelRef
    dovecot: Dovecot
    smtp: SmtpSink
    channel: EmailChannel | None = None

    def config(self, **overrides: Any) -> EmailConfig:
        raw: dict[str, Any] = {
            "name": self.ref.name,
            "type": "email",
            "imap": self.dovecot.imap_config(),
            "smtp": self.smtp.smtp_config(),
            "from": "Support <support@example.com>",
            "message_id_domain": DOMAIN,
            "max_attachment_bytes": 50_000,
            "batch_size": 7,
        }
        raw.update(overrides)
        return EmailConfig.model_validate(raw)

    async def start(self, **overrides: Any) -> EmailChannel:
        self.channel = EmailChannel(self.config(**overrides), ChannelContext(public_url="http://127.0.0.1:8000", message_id_domain=DOMAIN))
        await self.channel.start(ChannelSink(self.services.ingestor, self.ref))
        return self.channel

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.stop()
            self.channel = None

    async def cursor(self) -> Cursor | None:
        async with self.services.db.read() as session:
            return Cursor.decode(await session.scalar(select(Channel.cursor).where(Channel.id == self.ref.id)))

    async def wait_cursor(self, uid: int) -> Cursor:
        """Wait until the channel has committed everything up to `uid`."""
        deadline = time.monotonic() + 60
        while True:
            cursor = await self.cursor()
            if cursor is not None and cursor.uid >= uid:
                return cursor
            assert time.monotonic() < deadline, f"cursor stuck at {cursor}"
            await asyncio.sleep(0.02)

    async def wait_idle(self) -> None:
        deadline = time.monotonic() + 60
        while self.channel is None or self.channel.caught_up_at is None:
            assert time.monotonic() < deadline, "the receiver never caught up"
            await asyncio.sleep(0.02)

    async def inbound(self) -> list[Message]:
        async with self.services.db.read() as session:
            rows = await session.scalars(
                select(Message).where(Message.channel_id == self.ref.id, Message.direction == "in").order_by(Message.id)
            )
            return list(rows)

    async def quarantined(self) -> list[QuarantineItem]:
        async with self.services.db.read() as session:
            return list(
                await session.scalars(select(QuarantineItem).where(QuarantineItem.channel_id == self.ref.id).order_by(QuarantineItem.id))
            )


@pytest.fixture
async def mailbox(services: Services, dovecot: Dovecot, smtp_sink: SmtpSink) -> AsyncIterator[Mailbox]:
    ref = await add_channel(services, "mail", "email")
    box = Mailbox(services, ref, dovecot, smtp_sink)
    yield box
    await box.stop()


async def test_mail_in_the_folder_becomes_conversations_with_raw_kept(mailbox: Mailbox) -> None:
    mailbox.dovecot.deliver(mail("First question", msgid="q1@example.com"))
    mailbox.dovecot.deliver(mail("Second question", subject="Another thing", msgid="q2@example.com"))
    await mailbox.start()
    await mailbox.wait_cursor(2)
    first, second = await mailbox.inbound()
    assert (first.external_id, first.text, first.subject) == ("q1@example.com", "First question", "Printer broken")
    assert second.external_id == "q2@example.com"
    assert first.conversation_id != second.conversation_id  # a new subject opens a new conversation
    assert first.contact_id == second.contact_id
    async with mailbox.services.db.read() as session:
        raw = await session.scalar(select(Blob.data).where(Blob.sha256 == first.raw_sha256))
    assert raw is not None and b"Message-ID: <q1@example.com>" in raw


async def test_new_mail_wakes_the_idle_receiver(mailbox: Mailbox) -> None:
    channel = await mailbox.start()
    await mailbox.wait_idle()
    mailbox.dovecot.deliver(mail("Are you there?", msgid="idle@example.com"))
    await mailbox.wait_cursor(1)
    [message] = await mailbox.inbound()
    assert message.text == "Are you there?"
    assert channel.caught_up_at is not None


async def test_polling_fallback_without_idle_fetches_only_new_uids(mailbox: Mailbox) -> None:
    await mailbox.start(use_idle=False, poll_interval=0.05)
    await mailbox.wait_idle()
    for i in range(3):
        mailbox.dovecot.deliver(mail(f"poll {i}", msgid=f"poll{i}@example.com"))
        await mailbox.wait_cursor(i + 1)
    assert [m.text for m in await mailbox.inbound()] == ["poll 0", "poll 1", "poll 2"]


async def test_a_dropped_connection_is_reopened_and_nothing_is_missed(mailbox: Mailbox) -> None:
    channel = await mailbox.start()
    await mailbox.wait_idle()
    first_idle = channel.caught_up_at
    mailbox.dovecot.kick()
    mailbox.dovecot.deliver(mail("sent while we were away", msgid="away@example.com"))
    await mailbox.wait_cursor(1)
    assert [m.text for m in await mailbox.inbound()] == ["sent while we were away"]
    assert channel.caught_up_at != first_idle


async def test_restart_does_not_import_again(mailbox: Mailbox) -> None:
    for i in range(3):
        mailbox.dovecot.deliver(mail(f"m{i}", msgid=f"r{i}@example.com"))
    await mailbox.start()
    await mailbox.wait_cursor(3)
    await mailbox.stop()
    mailbox.dovecot.deliver(mail("after restart", msgid="r3@example.com"))
    await mailbox.start()
    await mailbox.wait_cursor(4)
    assert [m.text for m in await mailbox.inbound()] == ["m0", "m1", "m2", "after restart"]


async def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(mailbox: Mailbox) -> None:
    mailbox.dovecot.deliver(mail("kept", msgid="v1@example.com"))
    mailbox.dovecot.deliver(b"From: b@example.com\r\nSubject: no id\r\n\r\nno message-id here\r\n")
    await mailbox.start()
    before = await mailbox.wait_cursor(2)
    await mailbox.stop()
    mailbox.dovecot.reset_uidvalidity()
    mailbox.dovecot.deliver(mail("new after rebuild", msgid="v2@example.com"))
    await mailbox.start()
    deadline = time.monotonic() + 60
    while len(await mailbox.inbound()) < 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    after = await mailbox.wait_cursor(3)
    assert after.uidvalidity != before.uidvalidity
    assert sorted(m.text for m in await mailbox.inbound()) == ["kept", "new after rebuild", "no message-id here"]


async def drain(worker: OutboxWorker) -> None:
    while await worker.drain_once() or worker._inflight:
        if worker._inflight:
            await asyncio.gather(*list(worker._inflight))


async def drain_until(worker: OutboxWorker, services: Services, message_id: int, delivery: str) -> Message:
    """Run the outbox until the message's delivery is `delivery` (60 s is a safety net)."""
    deadline = time.monotonic() + 60
    while True:
        await drain(worker)
        async with services.db.read() as session:
            stored = await session.get(Message, message_id)
        if stored is not None and stored.delivery == delivery:
            return stored
        assert time.monotonic() < deadline, f"message {message_id} never became {delivery}"
        await asyncio.sleep(0.02)


async def answered(
    mailbox: Mailbox, question_mail: EmailMessage, answer: str, files: tuple[OutboundAttachment, ...] = ()
) -> tuple[EmailChannel, Message, Message]:
    """A customer's mail received by the running channel, and an agent's reply queued."""
    services = mailbox.services
    mailbox.dovecot.deliver(question_mail)
    channel = await mailbox.start()
    await mailbox.wait_cursor(1)
    [question] = await mailbox.inbound()
    agent, _ = await add_agent(services, "luis@support.example")
    reply_id = await send_reply(services.ctx, Actor(agent.id, agent.email, True), question.conversation_id, answer, attachments=files)
    async with services.db.read() as session:
        reply = await session.get(Message, reply_id)
    assert reply is not None
    return channel, question, reply


async def test_an_agents_files_go_out_as_attachments(mailbox: Mailbox) -> None:
    services = mailbox.services
    files = (OutboundAttachment("label.pdf", "application/pdf", b"%PDF return label"),)
    channel, _, _ = await answered(mailbox, mail("Can I return it?", msgid="r1@example.com"), "The return label is attached", files)
    worker = OutboxWorker(services.db, services.bus, lambda cid: channel if cid == mailbox.ref.id else None, FAST_OUTBOX)
    await drain(worker)
    [sent] = mailbox.smtp.messages
    out = message_from_bytes(sent.data, policy=policy.default)
    assert isinstance(out, EmailMessage)
    [part] = list(out.iter_attachments())
    assert (part.get_filename(), part.get_content_type(), part.get_content()) == ("label.pdf", "application/pdf", b"%PDF return label")
    assert "The return label is attached" in out.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_reply_threading_both_ways(mailbox: Mailbox) -> None:
    services = mailbox.services
    channel, question, reply = await answered(mailbox, mail("My printer is broken", msgid="p1@example.com"), "Try turning it off and on")
    worker = OutboxWorker(services.db, services.bus, lambda cid: channel if cid == mailbox.ref.id else None, FAST_OUTBOX)
    await drain(worker)

    [sent] = mailbox.smtp.messages
    out = message_from_bytes(sent.data, policy=policy.default)
    assert sent.rcpt_tos == ["ana@example.com"] and sent.mail_from == "support@example.com"
    assert out["In-Reply-To"] == "<p1@example.com>" and out["References"] == "<p1@example.com>"
    assert out["Subject"] == "Re: Printer broken" and out["From"] == "Support <support@example.com>"
    our_id = str(out["Message-ID"]).strip("<>")
    assert our_id.endswith("@" + DOMAIN)
    assert out.get_body(("plain",)).get_content().startswith("Try turning it off and on")
    assert "Try turning it off and on" in out.get_body(("html",)).get_content()
    async with services.db.read() as session:
        stored = await session.get(Message, reply.id)
    assert stored is not None and stored.delivery == "sent" and stored.external_id == our_id

    # The customer answers our mail: same conversation, by In-Reply-To.
    answer = mail(
        "Still broken\n\nOn Mon, Support <support@example.com> wrote:\n> Try turning it off and on",
        subject="Re: Printer broken",
        msgid="p2@example.com",
        In_Reply_To=f"<{our_id}>",
        References=f"<p1@example.com> <{our_id}>",
    )
    mailbox.dovecot.deliver(answer)
    # A new subject from the same person: a new conversation.
    mailbox.dovecot.deliver(mail("Unrelated: invoice copy", subject="Invoice", msgid="p3@example.com"))
    await mailbox.wait_cursor(3)
    _, follow_up, unrelated = await mailbox.inbound()
    assert follow_up.conversation_id == question.conversation_id and follow_up.text == "Still broken"
    assert unrelated.conversation_id != question.conversation_id

    # The [#ticket] token threads a mail without references.
    feed: Feed = []
    await services.db.run(lambda conn: open_ticket(conn, unrelated.conversation_id, "request", services.policy, feed, notify=False))
    async with services.db.read() as session:
        number = await session.scalar(select(Ticket.number).where(Ticket.conversation_id == unrelated.conversation_id))
    mailbox.dovecot.deliver(mail("About my request", subject=f"Again [#{number}]", msgid="p4@example.com"))
    await mailbox.wait_cursor(4)
    assert (await mailbox.inbound())[-1].conversation_id == unrelated.conversation_id


async def test_smtp_refusals_are_retried_or_failed(mailbox: Mailbox) -> None:
    services = mailbox.services
    channel, question, reply = await answered(mailbox, mail("hello", msgid="s1@example.com"), "answer")
    worker = OutboxWorker(services.db, services.bus, lambda cid: channel, FAST_OUTBOX)
    mailbox.smtp.reply_code = "450 4.2.1 Mailbox busy, try later"
    await worker.drain_once()
    await asyncio.gather(*list(worker._inflight))
    async with services.db.read() as session:
        assert (await session.get(Message, reply.id)).delivery == "queued"  # type: ignore[union-attr]
    mailbox.smtp.reply_code = "550 5.1.1 No such user"
    stored = await drain_until(worker, services, reply.id, "failed")
    assert "550" in (stored.delivery_error or "") and mailbox.smtp.messages == []


async def test_an_smtp_server_that_stalls_or_drops_loses_nothing_and_sends_once(mailbox: Mailbox) -> None:
    """The SMTP server accepts the connection and then says nothing (a stall), or hangs
    up at once (a drop): the reply stays queued and is retried, and once the server is
    back it is sent exactly once."""
    services = mailbox.services
    channel, question, reply = await answered(mailbox, mail("hello", msgid="st1@example.com"), "answer after faults")

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # never a greeting
        writer.close()

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    context = ChannelContext(public_url="http://127.0.0.1:8000", message_id_domain=DOMAIN)
    for behaviour in (stall, drop):
        server = await asyncio.start_server(behaviour, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        broken = EmailChannel(mailbox.config(smtp=mailbox.smtp.smtp_config(port=port, timeout=1.0)), context)
        worker = OutboxWorker(services.db, services.bus, lambda cid, ch=broken: ch, FAST_OUTBOX)  # type: ignore[misc]
        await worker.drain_once()
        await asyncio.gather(*list(worker._inflight))
        server.close()
        async with services.db.read() as session:
            stored = await session.get(Message, reply.id)
        assert stored is not None and stored.delivery == "queued", behaviour.__name__  # kept for a retry, not failed
        async with services.db.transaction() as session:  # due again at once
            item = (await session.scalars(select(OutboxItem).where(OutboxItem.message_id == reply.id))).one()
            item.next_attempt_at = item.created_at
            item.attempts = 0

    await drain_until(OutboxWorker(services.db, services.bus, lambda cid: channel, FAST_OUTBOX), services, reply.id, "sent")
    [sent] = mailbox.smtp.messages  # lost: 0, duplicated: 0
    assert b"answer after faults" in sent.data


async def test_hostile_html_is_stored_without_scripts(mailbox: Mailbox) -> None:
    msg = mail("plain part", msgid="h1@example.com")
    msg.add_alternative('<p>Hi<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:evil()">x</a></p>', subtype="html")
    mailbox.dovecot.deliver(msg)
    await mailbox.start()
    await mailbox.wait_cursor(1)
    [stored] = await mailbox.inbound()
    assert stored.html is not None and "Hi" in stored.html
    for bad in ("<script", "alert(1)", "onerror", "javascript:"):
        assert bad not in stored.html


async def test_odd_charsets_arrive_readable(mailbox: Mailbox) -> None:
    raw = (
        b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\r\nSubject: =?windows-1252?Q?Caf=E9_=80?=\r\n"
        b"Message-ID: <cs@example.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
        + "こんにちは".encode("iso-2022-jp")
        + b"\r\n"
    )
    mailbox.dovecot.deliver(raw)
    await mailbox.start()
    await mailbox.wait_cursor(1)
    [stored] = await mailbox.inbound()
    assert stored.subject == "Café €" and stored.text == "こんにちは"


async def test_attachments_are_stored_and_a_huge_one_is_left_out(mailbox: Mailbox) -> None:
    msg = mail("two files", msgid="a1@example.com")
    msg.add_attachment(b"%PDF-1.4 small", maintype="application", subtype="pdf", filename="factura.pdf")
    msg.add_attachment(b"\x00" * 100_000, maintype="application", subtype="octet-stream", filename="huge.bin")
    mailbox.dovecot.deliver(msg)
    whole = mail("too big to fetch", msgid="a2@example.com")
    whole.add_attachment(b"z" * 300_000, maintype="application", subtype="zip", filename="big.zip")
    mailbox.dovecot.deliver(whole)
    await mailbox.start(max_message_bytes=250_000)
    await mailbox.wait_cursor(2)
    first, second = await mailbox.inbound()
    async with mailbox.services.db.read() as session:
        files = (
            await session.execute(
                select(Attachment.filename, Blob.data).join(Blob, Blob.sha256 == Attachment.sha256).where(Attachment.message_id == first.id)
            )
        ).all()
    assert [(f.filename, f.data) for f in files] == [("factura.pdf", b"%PDF-1.4 small")]
    assert "huge.bin" in first.text and "not stored" in first.text
    assert second.external_id == "a2@example.com" and "only its headers were imported" in second.text


async def test_garbage_mime_is_quarantined_and_the_cursor_moves_on(mailbox: Mailbox) -> None:
    mailbox.dovecot.deliver(b"\x00\x01\x02 this is not an email at all \xff\xfe")
    mailbox.dovecot.deliver(b"Subject: nobody sent this\r\nMessage-ID: <orphan@example.com>\r\n\r\nbody")
    mailbox.dovecot.deliver(mail("a real one", msgid="g3@example.com"))
    await mailbox.start()
    await mailbox.wait_cursor(3)
    [stored] = await mailbox.inbound()
    assert stored.text == "a real one"
    held = await mailbox.quarantined()
    assert len(held) == 2 and {h.external_id for h in held} >= {"orphan@example.com"}
    assert any(b"not an email at all" in h.raw for h in held) and all(h.error for h in held)


async def test_robots_are_stored_but_never_auto_answered(mailbox: Mailbox) -> None:
    mailbox.dovecot.deliver(mail("I am away", msgid="ooo@example.com", Auto_Submitted="auto-replied"))
    mailbox.dovecot.deliver(mail("Delivery failed", sender="MAILER-DAEMON@mx.example.com", msgid="dsn@example.com"))
    await mailbox.start()
    await mailbox.wait_cursor(2)
    assert [m.automated for m in await mailbox.inbound()] == [True, True]


def _corpus() -> list[Path]:
    require(CORPUS.is_dir(), f"{CORPUS} missing (apt-get install libpython3.11-testsuite)")
    return sorted(p for p in CORPUS.iterdir() if p.is_file())


def _as_served(raw: bytes) -> bytes:
    """What IMAP serves for a Maildir file: bare LF line ends become CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


async def test_the_cpython_email_corpus_ends_as_messages_or_quarantine(mailbox: Mailbox) -> None:
    files = await asyncio.to_thread(_corpus)
    options = ParseOptions(DOMAIN, frozenset({"support@example.com"}), 50_000)
    expected_ids: set[str] = set()
    expected_held: set[str] = set()
    for path in files:
        raw = path.read_bytes()
        mailbox.dovecot.deliver(raw)
        try:
            expected_ids.add(parse_email(_as_served(raw), options).external_id)
        except ValueError:
            served = _as_served(raw)
            expected_held.add(message_id_of(served) or "sha256:" + hashlib.sha256(served).hexdigest())
    await mailbox.start()
    await mailbox.wait_cursor(len(files))
    stored = await mailbox.inbound()
    held = await mailbox.quarantined()
    # None lost: several files reuse one Message-ID, and those that say something else
    # are stored too, under "<id>#<hash>" (inbox.pipeline.ingest); none twice: no two say the same.
    first_ids = [re.sub(r"#[0-9a-f]{12}$", "", m.external_id) for m in stored]
    assert set(first_ids) == expected_ids
    assert len(set(zip(first_ids, (m.content_sha256 for m in stored), strict=True))) == len(stored)
    assert len(stored) > len(expected_ids)  # msg_01, msg_03, ... share one Message-ID
    # Binary files do not survive the CRLF conversion byte for byte, so compare counts.
    assert len(held) == len(expected_held) and all(h.raw and h.error for h in held)
    for message in stored:
        assert "<script" not in (message.html or "").lower()
    async with mailbox.services.db.read() as session:
        conversations = await session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.channel_id == mailbox.ref.id)
        )
    assert conversations and conversations <= len(stored)


async def test_channels_test_reports_imap_and_smtp(mailbox: Mailbox) -> None:
    channel = EmailChannel(mailbox.config(), ChannelContext(public_url="http://127.0.0.1:8000"))
    imap, smtp = await channel.check()
    assert imap.ok and "UIDVALIDITY" in imap.detail and "IDLE" in imap.detail
    assert smtp.ok
    wrong = EmailChannel(mailbox.config(imap=mailbox.dovecot.imap_config(password="nope")), ChannelContext(public_url="http://x"))
    imap, _ = await wrong.check()
    assert not imap.ok and "refused" in imap.detail


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_log_in_and_fetch(dovecot: Dovecot, security: str) -> None:
    dovecot.deliver(mail("over TLS", msgid="tls@example.com"))
    session = ImapSession(ImapConfig.model_validate(dovecot.imap_tls_config(security)))
    await session.open()
    try:
        await session.select("INBOX")
        uids = await session.uids_after(0)
        raws = await session.fetch(uids)
    finally:
        await session.close()
    assert uids == [1] and b"over TLS" in raws[1]


async def test_an_untrusted_certificate_is_refused(dovecot: Dovecot) -> None:
    settings = dovecot.imap_tls_config("tls")
    settings.pop("ca_file")
    session = ImapSession(ImapConfig.model_validate(settings))
    with pytest.raises(ImapError):
        await session.open()
    await session.close()


async def test_auto_replies_skip_robots_and_are_capped_per_contact(db_url: str, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    from inbox.runtime.provision import provision_teams_and_rules
    from tests.fixtures.inbox import make_config

    rules = [{"name": "acknowledge", "if": {"channel_type": ["email"]}, "then": {"auto_reply": "auto_reply"}}]
    services = Services.build(make_config(db_url, rules=rules))
    await provision_teams_and_rules(services.db, services.config)
    try:
        box = Mailbox(services, await add_channel(services, "mail", "email"), dovecot, smtp_sink)
        dovecot.deliver(mail("I am on holiday", sender="bot@example.com", msgid="r1@example.com", Auto_Submitted="auto-replied"))
        dovecot.deliver(mail("News!", sender="list@example.com", msgid="r2@example.com", List_Id="<news.example.com>"))
        dovecot.deliver(mail("First question", msgid="r3@example.com"))
        dovecot.deliver(mail("Second question, new subject", subject="Other", msgid="r4@example.com"))
        channel = await box.start()
        await box.wait_cursor(4)
        worker = OutboxWorker(services.db, services.bus, lambda cid: channel, FAST_OUTBOX)
        await drain(worker)
        # One auto-reply: the person's first mail. Robots get none; the second is within the hour.
        [sent] = smtp_sink.messages
        out = message_from_bytes(sent.data, policy=policy.default)
        assert sent.rcpt_tos == ["ana@example.com"] and out["In-Reply-To"] == "<r3@example.com>"
        assert out["Auto-Submitted"] == "auto-replied"
    finally:
        await box.stop()
        await services.db.dispose()


async def test_a_chat_relayed_by_email_gets_our_message_id_and_no_foreign_references(dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """The widget's offline continuation sends through this channel (outbox relay)."""
    config = EmailConfig.model_validate(
        {
            "name": "mail",
            "type": "email",
            "imap": dovecot.imap_config(),
            "smtp": smtp_sink.smtp_config(),
            "from": "Support <support@example.com>",
            "message_id_domain": DOMAIN,
        }
    )
    channel = EmailChannel(config, ChannelContext(public_url="http://127.0.0.1:8000"))
    key = "0123456789abcdef0123456789abcdef-relay"
    outbound = OutboundMessage(
        idempotency_key=key,
        recipient=Recipient(address="visitor-42", email="visitor@example.com", language="es"),
        text="Ya está resuelto",
        references=("w:1", "w:2"),
        in_reply_to="w:2",
        author_name="Luis",
    )
    result = await channel.send(outbound)
    [sent] = smtp_sink.messages
    out = message_from_bytes(sent.data, policy=policy.default)
    assert sent.rcpt_tos == ["visitor@example.com"] and result.external_id == f"{key}@{DOMAIN}"
    assert out["Message-ID"] == f"<{key}@{DOMAIN}>" and out["In-Reply-To"] is None and out["References"] is None
    assert out["Subject"] == "Re: su mensaje"
