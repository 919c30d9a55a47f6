"""SIGKILL in the middle of a broadcast to 500 customers: none missed, none doubled.

500 customers subscribed to a service (400 who wrote on a spool channel, 100 in the chat
widget); an incident on an item the service depends on broadcasts to them. The second test
does the same with 125 customers each on email (aiosmtpd), Telegram (the fake Bot API),
Slack (the fake Web API) and the widget, and checks what each network received. The real daemon
is killed once the first recipients are written and before the last (the second test: once
Telegram has delivered its first sends); the next start resumes the broadcast, and every
customer ends up with exactly one message, never two: e-mail, Slack and the widget deliver
exactly once; Telegram, whose API cannot tell whether a send caught by the kill arrived,
never repeats one and reports it "unknown" (docs/architecture.md, "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from channels.base import InboundMessage
from inbox import config as config_module
from inbox.actions import services as actions
from inbox.actions import tickets as tickets
from inbox.actions.runner import CLI
from inbox.config import OutboxConfig
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.services import Services
from inbox.store.models import BroadcastRecipient, Channel, ContactIdentity, Conversation, Message, ServiceSubscriber
from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.fixtures.dovecot import PASSWORD, Dovecot, SmtpSink, dovecot, dovecot_server, smtp_sink  # noqa: F401
from tests.fixtures.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, fake_slack  # noqa: F401
from tests.fixtures.fake_telegram import TOKEN as TG_TOKEN
from tests.fixtures.fake_telegram import FakeTelegram, fake_telegram  # noqa: F401
from tests.fixtures.inbox import inbound
from tests.inbox.runtime.test_daemon import spool_channel

SPOOL, WIDGET = 400, 100
TEXT = "Checkout is down; we are on it."


async def seed(node: Daemon) -> int:
    """The customers, the graph and the incident, written through the actions; the ticket id."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        await svc.channels.provision(svc.config.channels)  # as a start does
        async with svc.db.read() as session:
            refs = {c.name: ChannelRef(c.id, c.name, c.type) for c in await session.scalars(select(Channel))}
        spool = [inbound(f"s{i}", sender=f"user{i}@example.com", text="down?", thread_key=f"t{i}") for i in range(SPOOL)]
        widget = [inbound(f"w{i}", sender=f"visitor-{i}", text="is it down?", thread_key=f"v{i}") for i in range(WIDGET)]
        await svc.ingestor.ingest(refs["drop"], spool)
        await svc.ingestor.ingest(refs["website"], widget)
        await actions.create_node(svc.ctx, CLI, actions.CONFIG_ITEMS, actions.NodeChanges(name="pg-main", kind="database"))
        service_id = await actions.create_node(
            svc.ctx, CLI, actions.SERVICES, actions.NodeChanges(name="Checkout", depends_on=("pg-main",))
        )
        async with svc.db.read() as session:
            contacts = list(await session.scalars(select(Conversation.contact_id).order_by(Conversation.id)))
            first = await session.scalar(select(Conversation.id).order_by(Conversation.id))
        assert len(set(contacts)) == SPOOL + WIDGET and first is not None
        async with svc.db.transaction() as session:  # 500 subscribers at once (the action adds one)
            session.add_all([ServiceSubscriber(service_id=service_id, contact_id=c) for c in contacts])
        ticket_id = await tickets.open_ticket(svc.ctx, CLI, first, "incident", title="Checkout down")
        await tickets.update_ticket(svc.ctx, CLI, ticket_id, tickets.TicketChanges(affected=("pg-main",)))
        return ticket_id
    finally:
        await svc.db.dispose()


async def per_contact(node: Daemon) -> tuple[list[int], int, dict[str, int]]:
    """Recipient rows per contact, distinct broadcast messages, and their delivery states."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        async with svc.db.read() as session:
            rows = (
                await session.execute(select(func.count()).select_from(BroadcastRecipient).group_by(BroadcastRecipient.contact_id))
            ).all()
            messages = await session.scalar(select(func.count(func.distinct(BroadcastRecipient.message_id))))
            states = dict(
                (
                    await session.execute(
                        select(Message.delivery, func.count())
                        .join(BroadcastRecipient, BroadcastRecipient.message_id == Message.id)
                        .group_by(Message.delivery)
                    )
                ).all()
            )
        return [r[0] for r in rows], int(messages or 0), {str(k): int(v) for k, v in states.items()}
    finally:
        await svc.db.dispose()


def test_sigkill_mid_broadcast_misses_and_doubles_no_one(daemon: Daemon, tmp_path: Path) -> None:  # noqa: F811
    daemon.channels = [spool_channel(tmp_path), {"name": "website", "type": "widget", "allowed_origins": []}]
    token = daemon.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    ticket_id = asyncio.run(seed(daemon))
    daemon.start()

    def report() -> dict[str, Any]:
        items = httpx.get(f"{daemon.url}/api/v1/tickets/{ticket_id}/broadcasts", headers=headers, timeout=30).json()["items"]
        return dict(items[0]) if items else {}

    def send() -> None:
        try:
            httpx.post(f"{daemon.url}/api/v1/tickets/{ticket_id}/broadcast", json={"text": TEXT}, headers=headers, timeout=60)
        except httpx.HTTPError:
            pass  # killed under it

    sender = threading.Thread(target=send)
    sender.start()
    seen = wait_until(lambda: report().get("recipients") or None, interval=0.01, what="the first batch of recipients")
    daemon.kill()
    sender.join()
    assert 0 < seen < SPOOL + WIDGET, f"the kill landed after the broadcast ({seen} recipients)"

    daemon.start()  # resumes the broadcast
    done = wait_until(
        lambda: (r := report()).get("complete") and sum(c["sent"] for c in r["channels"]) == SPOOL + WIDGET and r,
        timeout=90,
        what="every recipient written and sent",
    )
    assert done["recipients"] == SPOOL + WIDGET and done["skipped"] == 0
    assert {c["channel"]: c["sent"] for c in done["channels"]} == {"drop": SPOOL, "website": WIDGET}
    counts, messages, states = asyncio.run(per_contact(daemon))
    assert len(counts) == SPOOL + WIDGET and set(counts) == {1}, "a customer missed or doubled"
    assert messages == SPOOL + WIDGET and states == {"sent": SPOOL + WIDGET}
    written = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    sent_to = [w["to"] for w in written if w["text"] == TEXT]
    assert len(sent_to) == SPOOL and len(set(sent_to)) == SPOOL


# -- the same across email, Telegram, Slack and the widget ------------------------------

EACH = 125  # customers per channel: 500 in all
IN_FLIGHT = OutboxConfig().concurrency  # sends the outbox has under way at once: all a kill can catch mid-send
MIXED = ("mail", "tg", "slack", "website")


def mixed_channels(dovecot: Dovecot, smtp: SmtpSink, telegram: FakeTelegram, slack: FakeSlack) -> list[dict[str, object]]:
    return [
        {
            "name": "mail",
            "type": "email",
            "imap": dovecot.imap_config(password="env:IMAP_PASSWORD"),
            "smtp": smtp.smtp_config(),
            "from": "Support <support@example.com>",
        },
        {"name": "tg", "type": "telegram", "token": TG_TOKEN, "api_base_url": telegram.api_base_url, "poll_timeout": 2},
        {
            "name": "slack",
            "type": "slack",
            "bot_token": "env:SLACK_BOT_TOKEN",
            "signing_secret": "env:SLACK_SIGNING_SECRET",
            "api_url": slack.api_url,
            "support_channels": ["C0SUPPORT"],
        },
        {"name": "website", "type": "widget", "allowed_origins": []},
    ]


def customers(channel: str) -> list[InboundMessage]:
    """EACH customers who wrote on `channel`, each in a conversation of their own."""
    if channel == "mail":
        return [inbound(f"<m{i}@example.com>", sender=f"mailer{i}@example.com", text="down?", subject="Checkout?") for i in range(EACH)]
    if channel == "tg":
        return [inbound(f"tg{i}", sender=str(7000 + i), name=f"TG {i}", text="down?", thread_key=str(7000 + i)) for i in range(EACH)]
    if channel == "slack":
        return [inbound(f"sl{i}", sender=f"U{i:05d}", name=f"Slack {i}", text="down?", thread_key=f"dm:U{i:05d}") for i in range(EACH)]
    return [inbound(f"w{i}", sender=f"visitor-{i}", text="is it down?", thread_key=f"v{i}") for i in range(EACH)]


async def seed_mixed(node: Daemon) -> int:
    """As `seed`, with EACH customers on each of MIXED; the incident's ticket id."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        await svc.channels.provision(svc.config.channels)
        async with svc.db.read() as session:
            refs = {c.name: ChannelRef(c.id, c.name, c.type) for c in await session.scalars(select(Channel))}
        for name in MIXED:
            await svc.ingestor.ingest(refs[name], customers(name))
        await actions.create_node(svc.ctx, CLI, actions.CONFIG_ITEMS, actions.NodeChanges(name="pg-main", kind="database"))
        service_id = await actions.create_node(
            svc.ctx, CLI, actions.SERVICES, actions.NodeChanges(name="Checkout", depends_on=("pg-main",))
        )
        async with svc.db.read() as session:
            contacts = list(await session.scalars(select(Conversation.contact_id).order_by(Conversation.id)))
            first = await session.scalar(select(Conversation.id).order_by(Conversation.id))
        assert len(set(contacts)) == EACH * len(MIXED) and first is not None
        async with svc.db.transaction() as session:
            session.add_all([ServiceSubscriber(service_id=service_id, contact_id=c) for c in contacts])
        ticket_id = await tickets.open_ticket(svc.ctx, CLI, first, "incident", title="Checkout down")
        await tickets.update_ticket(svc.ctx, CLI, ticket_id, tickets.TicketChanges(affected=("pg-main",)))
        return ticket_id
    finally:
        await svc.db.dispose()


# On PostgreSQL only (CI time): the resume on both databases is the test above's; this one is
# about what the four networks receive across the kill.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_sigkill_mid_broadcast_across_email_telegram_slack_and_widget(  # noqa: F811
    daemon: Daemon, dovecot: Dovecot, smtp_sink: SmtpSink, fake_telegram: FakeTelegram, fake_slack: FakeSlack
) -> None:
    total = EACH * len(MIXED)
    daemon.channels = mixed_channels(dovecot, smtp_sink, fake_telegram, fake_slack)
    daemon.env = {**daemon.env, "IMAP_PASSWORD": PASSWORD, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    token = await asyncio.to_thread(daemon.admin_token)
    headers = {"Authorization": f"Bearer {token}"}
    ticket_id = await seed_mixed(daemon)
    await asyncio.to_thread(daemon.start)  # in a thread: the fake Slack in this loop answers it meanwhile
    http = httpx.AsyncClient(base_url=daemon.url, headers=headers, timeout=60)

    async def report() -> dict[str, Any]:
        items = (await http.get(f"/api/v1/tickets/{ticket_id}/broadcasts")).json()["items"]
        return dict(items[0]) if items else {}

    async def send() -> None:
        try:
            await http.post(f"/api/v1/tickets/{ticket_id}/broadcast", json={"text": TEXT})
        except httpx.HTTPError:
            pass  # killed under it

    async def until(check: Any, what: str, timeout: float = 240.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while not (value := await check()):
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)
        return value

    def mails() -> list[Any]:
        return [message_from_bytes(m.data, policy=policy.default) for m in list(smtp_sink.messages)]

    def received() -> dict[str, int]:
        """What each network has received of the broadcast so far (the widget's is its commit)."""
        return {
            "mail": len({str(mail["Message-ID"]) for mail in mails() if TEXT in _plain(mail)}),
            "tg": sum(1 for s in list(fake_telegram.sent) if s.visible and TEXT in s.visible),
            "slack": sum(1 for p in list(fake_slack.posts) if TEXT in p.text),
        }

    async def some_sent() -> dict[str, int] | None:
        # Telegram, the channel that cannot be asked, is sending when the kill lands.
        now = received()
        return now if now["tg"] >= IN_FLIGHT else None

    clock = asyncio.get_running_loop().time
    began = clock()
    try:
        sending = asyncio.create_task(send())
        await until(some_sent, "the first sends on the networks")
        killed_at = clock() - began
        await asyncio.to_thread(daemon.kill)
        before = received()
        await sending
        seen = await count_recipients(daemon)
        # The kill landed mid-broadcast: some sends went out before it, and some after.
        assert 0 < before["tg"] < EACH, f"the kill landed outside Telegram's sends ({before})"

        await asyncio.to_thread(daemon.start)  # resumes the broadcast

        async def finished() -> dict[str, Any] | None:
            r = await report()
            return r if r.get("complete") and sum(c["sent"] + c["unknown"] for c in r["channels"]) == total else None

        done = await until(finished, "every recipient written and sent")
        done_at = clock() - began
    finally:
        await http.aclose()
    after = received()
    assert after["tg"] > before["tg"] and sum(after.values()) > sum(before.values()), "nothing was sent after the restart"
    assert done["recipients"] == total and done["skipped"] == 0, (seen, done)
    by_channel = {c["channel"]: c for c in done["channels"]}
    assert {name: c["sent"] + c["unknown"] for name, c in by_channel.items()} == dict.fromkeys(MIXED, EACH)
    # Only a "hold" channel (Telegram) may end a send in doubt; every other one resolves it.
    assert all(by_channel[name]["unknown"] == 0 for name in ("mail", "slack", "website")), by_channel
    unknown = by_channel["tg"]["unknown"]
    assert unknown <= IN_FLIGHT, f"{unknown} Telegram sends in doubt: more than were in flight"
    counts, messages, states = await asyncio.to_thread(lambda: asyncio.run(per_contact(daemon)))
    assert len(counts) == total and set(counts) == {1}, "a customer missed or doubled"
    assert messages == total and states == {"sent": total - unknown, **({"unknown": unknown} if unknown else {})}
    # What each network received: every customer exactly once. E-mail: one Message-ID per
    # customer (a send repeated after the kill carries the same Message-ID: one message to the
    # reader). Slack: one post per DM (a send in doubt first looks for its post in the DM).
    # Telegram: one message per chat (a send in doubt is never repeated; it reached the fake
    # before the kill, so it is there once, though the store could not know: "unknown").
    ids: dict[str, set[str]] = {}
    for delivered in smtp_sink.messages:
        mail = message_from_bytes(delivered.data, policy=policy.default)
        if TEXT in _plain(mail):
            for to in delivered.rcpt_tos:
                ids.setdefault(to.lower(), set()).add(str(mail["Message-ID"]))
    assert sorted(ids) == sorted(f"mailer{i}@example.com" for i in range(EACH)) and all(len(v) == 1 for v in ids.values())
    slacked = sorted(p.channel for p in fake_slack.posts if TEXT in p.text)
    assert slacked == sorted(f"D{i:05d}" for i in range(EACH)), "a Slack DM missed or doubled"
    telegrams = Counter(str(s.chat_id) for s in fake_telegram.sent if s.visible and TEXT in s.visible)
    assert set(telegrams.values()) == {1}, f"Telegram chats doubled: {[c for c, n in telegrams.items() if n > 1]}"
    # A Telegram send the kill caught in flight is never repeated (that could double it): it
    # arrived or it did not, and nothing can tell. One that did not is held as "unknown" on
    # the message, in the report and for the agent; none is missing without saying so.
    held = await asyncio.to_thread(lambda: asyncio.run(held_addresses(daemon)))
    missing = {str(7000 + i) for i in range(EACH)} - set(telegrams)
    assert len(held) == unknown and missing <= held, f"Telegram chats missed without a word: {sorted(missing - held)}"
    print(
        f"killed at {killed_at:.1f}s with {before} received, done at {done_at:.1f}s with {after};"
        f" Telegram in doubt {unknown} ({len(missing)} of them never arrived), e-mail deliveries {len(smtp_sink.messages)}"
    )


async def held_addresses(node: Daemon) -> set[str]:
    """The Telegram chats whose broadcast message is held as "unknown"."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        async with svc.db.read() as session:
            rows = await session.scalars(
                select(ContactIdentity.address)
                .join(BroadcastRecipient, BroadcastRecipient.contact_id == ContactIdentity.contact_id)
                .join(Message, Message.id == BroadcastRecipient.message_id)
                .where(Message.delivery == "unknown", ContactIdentity.channel_id == Message.channel_id)
            )
            return set(rows)
    finally:
        await svc.db.dispose()


async def count_recipients(node: Daemon) -> int:
    counts, _, _ = await asyncio.to_thread(lambda: asyncio.run(per_contact(node)))
    return sum(counts)


def _plain(mail: Any) -> str:
    body = mail.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""
