"""No message may stall a channel: one the store refuses is quarantined, those behind it arrive.

For every channel type the messages are built the way its adapter builds them; the
spool folder, Slack's Events API and Telegram polling also run through the real adapter
into the real inbox, on SQLite and PostgreSQL. The refusal is a real database constraint
(tests/inbox/poison.py), so the failure comes from the store, where a real one would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.base import ChannelContext, InboundMessage, Sender
from channels.email_parse import ParseOptions, parse_email
from channels.slack import SlackChannel, SlackConfig, read_event
from channels.spool import SpoolChannel, SpoolConfig, parse_spool_file
from channels.telegram import TelegramChannel, TelegramConfig
from channels.telegram_updates import BotIdentity, read_update
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import Message, QuarantineItem
from tests.fixtures.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    event_callback,
    fake_slack,
    message_event,
    signed_request,
)  # noqa: F401
from tests.fixtures.fake_telegram import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    fake_telegram,
    message,
    user,
)  # noqa: F401
from tests.fixtures.inbox import add_channel
from tests.fixtures.memory_sink import eventually
from tests.inbox.pipeline.poison import MARK, refuse_marked_messages

CONTEXT = ChannelContext(public_url="http://127.0.0.1:8000", message_id_domain="frontdesk.local")


# -- messages as each adapter builds them ----------------------------------------------------


def email_message(n: int, text: str) -> InboundMessage:
    raw = (
        f"From: Ana <ana@example.com>\r\nTo: support@frontdesk.local\r\nSubject: Order {n}\r\n"
        f"Message-ID: <order-{n}@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()
    return parse_email(raw, ParseOptions(own_domain="frontdesk.local"))


def spool_message(n: int, text: str) -> InboundMessage:
    return parse_spool_file(json.dumps({"id": f"job-{n}", "from": "ops@example.com", "text": text, "thread": "nightly"}).encode())


def slack_message(n: int, text: str) -> InboundMessage:
    body = event_callback(message_event(text, ts=f"1700000{n:03d}.000100"))
    message_ = read_event(body, {"C0SUPPORT"}, json.dumps(body).encode())
    assert message_ is not None
    return message_


def telegram_message(n: int, text: str) -> InboundMessage:
    read = read_update(
        {"update_id": 5000 + n, "message": message(user(601), text, message_id=n)},
        BotIdentity(BOT_ID, BOT_USERNAME),
    )
    assert read is not None
    return read.message


def widget_message(n: int, text: str) -> InboundMessage:
    # What widget/gateway.py hands its sink: one visitor message at a time.
    key = "visitor-key-1"
    return InboundMessage(
        external_id=f"{key}:client-{n}",
        sender=Sender(address=key, name="Ana", verified=False),
        text=text,
        thread_key=key,
        meta={"visitor": key, "client_id": f"client-{n}"},
    )


BUILDERS: dict[str, Callable[[int, str], InboundMessage]] = {
    "email": email_message,
    "spool": spool_message,
    "slack": slack_message,
    "telegram": telegram_message,
    "widget": widget_message,
}


async def stored_texts(services: Services) -> list[str]:
    async with services.db.read() as session:
        return [t.strip() for t in await session.scalars(select(Message.text).order_by(Message.id))]


async def cursor_reaches(services: Services, ref: ChannelRef, value: str, timeout: float = 60.0) -> None:
    """Poll the committed cursor until it is `value` (a safety-net deadline, not a limit)."""
    deadline = time.monotonic() + timeout
    while await services.ingestor.cursor(ref) != value:
        assert time.monotonic() < deadline, f"the cursor never reached {value}"
        await asyncio.sleep(0.02)


async def held(services: Services) -> list[QuarantineItem]:
    async with services.db.read() as session:
        return list(await session.scalars(select(QuarantineItem).order_by(QuarantineItem.id)))


@pytest.mark.parametrize("channel_type", sorted(BUILDERS))
async def test_a_refused_message_is_quarantined_and_the_next_one_arrives(services: Services, channel_type: str) -> None:
    build = BUILDERS[channel_type]
    channel = await add_channel(services, channel_type, channel_type)
    await refuse_marked_messages(services)
    poison = build(2, f"my order {MARK}")
    if channel_type == "widget":  # the gateway stores each message alone
        results = [(await services.ingestor.ingest(channel, [m], cursor=None))[0] for m in (build(1, "first"), poison, build(3, "third"))]
    else:
        results = await services.ingestor.ingest(channel, [build(1, "first"), poison, build(3, "third")], cursor="c-3")
        assert await services.ingestor.cursor(channel) == "c-3"
    assert [r.quarantined for r in results] == [False, True, False]
    [next_one] = await services.ingestor.ingest(channel, [build(4, "fourth")])
    assert next_one.message_id is not None
    assert await stored_texts(services) == ["first", "third", "fourth"]
    [item] = await held(services)
    assert item.external_id == poison.external_id and "test_refused" in item.error


# -- through the real adapters ---------------------------------------------------------------


async def test_spool_folder_moves_past_a_refused_file_and_a_broken_one(services: Services, tmp_path: Path) -> None:
    ref = await add_channel(services, "drop")
    await refuse_marked_messages(services)
    inbox_dir = tmp_path / "in"
    inbox_dir.mkdir()
    # A lone surrogate, as a JSON writer that cut an emoji in half leaves it: repaired, stored.
    files = {
        "1.json": json.dumps({"id": "a", "from": "ops@example.com", "text": "disk 91% full"}),
        "2.json": json.dumps({"id": "b", "from": "ops@example.com", "text": f"refused {MARK}"}),
        "3.json": '{"id": "c", "from": "ops@example.com", "text": "cut emoji \\ud83d here", "name": "Jos\\udce9"}',
        "4.json": json.dumps({"id": "d", "from": "ops@example.com", "text": "disk 95% full"}),
    }
    for name, body in files.items():
        (inbox_dir / name).write_text(body)
    adapter = SpoolChannel(
        SpoolConfig(
            name="drop",
            inbox_dir=str(inbox_dir),
            outbox_dir=str(tmp_path / "out"),
            poll_interval=0.05,
        ),
        CONTEXT,
    )
    await adapter.start(ChannelSink(services.ingestor, ref))
    try:
        await eventually(lambda: not list(inbox_dir.glob("*.json")), what="every file taken")
    finally:
        await adapter.stop()
    assert await stored_texts(services) == [
        "disk 91% full",
        "cut emoji \ufffd here",
        "disk 95% full",
    ]
    assert [i.external_id for i in await held(services)] == ["b"]


@pytest.fixture
async def slack_adapter(services: Services, fake_slack: FakeSlack) -> AsyncIterator[tuple[SlackChannel, ChannelRef]]:  # noqa: F811
    ref = await add_channel(services, "slack", "slack")
    config = SlackConfig.model_validate(
        {
            "name": "slack",
            "type": "slack",
            "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "api_url": fake_slack.api_url,
            "support_channels": ["C0SUPPORT"],
        }
    )
    adapter = SlackChannel(config, CONTEXT)
    await adapter.start(ChannelSink(services.ingestor, ref))
    yield adapter, ref
    await adapter.stop()


async def test_slack_events_after_a_refused_one_are_stored_and_every_one_is_acknowledged(
    services: Services, slack_adapter: tuple[SlackChannel, ChannelRef]
) -> None:
    adapter, _ = slack_adapter
    await refuse_marked_messages(services)
    statuses = []
    for text in ("first", f"refused {MARK}", "cut emoji \ud83d here", "last"):
        # json.dumps escapes the lone surrogate as "\ud83d", exactly as it would arrive.
        response = await adapter.handle_webhook(signed_request(event_callback(message_event(text))))
        statuses.append(response.status)
    # Slack stops resending only on 200: a refused event must not be answered 500 forever.
    assert statuses == [200, 200, 200, 200]
    assert await stored_texts(services) == ["first", "cut emoji \ufffd here", "last"]
    [item] = await held(services)
    assert MARK.encode() in item.raw


async def test_telegram_polling_confirms_past_a_refused_update(services: Services, fake_telegram: FakeTelegram) -> None:  # noqa: F811
    ref = await add_channel(services, "tg", "telegram")
    await refuse_marked_messages(services)
    ana = user(701, "Ana")
    for n, text in enumerate(("first", f"refused {MARK}", "third"), start=1):
        last = fake_telegram.add_update({"message": message(ana, text, message_id=n)})
    config = TelegramConfig.model_validate(
        {
            "name": "tg",
            "type": "telegram",
            "token": TOKEN,
            "api_base_url": fake_telegram.api_base_url,
            "poll_timeout": 5,
        }
    )
    adapter = TelegramChannel(config, CONTEXT)
    await adapter.start(ChannelSink(services.ingestor, ref))
    try:
        await eventually(
            lambda: last["update_id"] + 1 in fake_telegram.offsets_asked(),
            what="the confirming getUpdates",
        )
        fake_telegram.add_update({"message": message(ana, "fourth", message_id=4)})
        committed = str(last["update_id"] + 2)
        await cursor_reaches(services, ref, committed)
    finally:
        await adapter.stop()
    assert await services.ingestor.cursor(ref) == committed
    assert await stored_texts(services) == ["first", "third", "fourth"]
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(QuarantineItem)) == 1
