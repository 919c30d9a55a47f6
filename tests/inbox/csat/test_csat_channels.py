"""Satisfaction surveys on chat channels: Telegram inline buttons answered by callback
queries (against the fake Bot API), Slack buttons (block actions, signature-verified)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from channels.base import ChannelContext
from channels.slack import SlackChannel, SlackConfig
from channels.telegram import TelegramChannel, TelegramConfig
from inbox.pipeline.outbox import OutboxWorker
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import CsatSurvey
from tests.fixtures.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    block_action,
    event_callback,
    fake_slack,  # noqa: F401
    message_event,
    signed_interaction,
    signed_request,
)
from tests.fixtures.fake_telegram import TOKEN, FakeTelegram, callback_query, fake_telegram, message, user  # noqa: F401
from tests.fixtures.memory_sink import eventually
from tests.inbox.csat.test_csat import channel, resolve


async def drain(svc: Services, adapter: object) -> None:
    worker = OutboxWorker(svc.db, svc.bus, lambda _: adapter, svc.config.outbox, csat_url=svc.csat_url)  # type: ignore[arg-type,return-value]
    while await worker.drain_once():
        for task in list(worker._inflight):
            await task


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    config = TelegramConfig.model_validate(
        {"name": "tg", "type": "telegram", "token": TOKEN, "api_base_url": fake_telegram.api_base_url, "poll_timeout": 5, "csat": True}
    )
    adapter = TelegramChannel(config, ChannelContext(public_url="http://support.test"))
    yield adapter
    await adapter.stop()


async def test_telegram_buttons_rate_once_through_the_callback_query(
    services: Services, fake_telegram: FakeTelegram, telegram: TelegramChannel
) -> None:
    svc = services
    ref = await channel(svc, "tg", "telegram")
    ana = user(701, "Ana", language="es")
    fake_telegram.add_update({"message": message(ana, "Mi pedido no llega", message_id=3)})
    await telegram.start(ChannelSink(svc.ingestor, ref, rater=svc.rate_by_token))
    from inbox.store.models import Conversation

    cid = await eventually_db(svc, lambda s: s.scalar(select(Conversation.id)))
    await resolve(svc, cid)
    await drain(svc, telegram)
    [question] = fake_telegram.sent_to(701)
    assert "¿Qué tal le atendimos?" in (question.visible or "")
    buttons = question.reply_markup["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    fake_telegram.add_update(callback_query(ana, buttons[4]["callback_data"], question))
    await eventually(lambda: fake_telegram.answers, what="the callback answer")
    assert fake_telegram.answers[0][1] == "¡Gracias por su valoración!"
    await eventually(lambda: not fake_telegram.sent_to(701)[0].reply_markup, what="the buttons removed")
    fake_telegram.add_update(callback_query(ana, buttons[0]["callback_data"], question))
    await eventually(lambda: len(fake_telegram.answers) == 2, what="the second answer")
    assert fake_telegram.answers[1][1] == "Ya la valoró. ¡Gracias!"
    # A forged callback (another rating under a made-up token) changes nothing.
    fake_telegram.add_update(callback_query(ana, "csat:1.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA:1", question))
    await eventually(lambda: len(fake_telegram.answers) == 3, what="the third answer")
    assert fake_telegram.answers[2][1] == "Esta encuesta ha caducado."
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.rated_via) == (5, "telegram")


async def eventually_db(svc: Services, read: object) -> int:
    import asyncio
    import time

    deadline = time.monotonic() + 60
    while True:
        value = await svc.db.query(read)  # type: ignore[arg-type]
        if value:
            return int(value)
        assert time.monotonic() < deadline, "timed out waiting for the conversation"
        await asyncio.sleep(0.05)


async def test_slack_buttons_rate_through_a_signed_block_action_and_a_forged_one_is_refused(
    services: Services, fake_slack: FakeSlack
) -> None:
    svc = services
    ref = await channel(svc, "slack", "slack")
    fake_slack.add_user("U0ANA", "Ana Pérez", "ana@example.com")
    adapter = SlackChannel(make_slack_config(fake_slack), ChannelContext(public_url="http://127.0.0.1:8000"))
    await adapter.start(ChannelSink(svc.ingestor, ref, rater=svc.rate_by_token))
    try:
        assert (await adapter.handle_webhook(signed_request(event_callback(message_event("Help me"))))).status == 200
        from inbox.store.models import Conversation

        cid = await eventually_db(svc, lambda s: s.scalar(select(Conversation.id)))
        await resolve(svc, cid)
        await drain(svc, adapter)
        [post] = fake_slack.posts
        blocks = json.loads(post.params["blocks"]) if isinstance(post.params["blocks"], str) else post.params["blocks"]
        buttons = blocks[1]["elements"]
        assert [b["action_id"] for b in buttons] == [f"csat_rate_{n}" for n in range(1, 6)]
        value = buttons[3]["value"]
        forged = await adapter.handle_webhook(signed_interaction(block_action("csat_rate_1", value), secret="not-the-secret"))
        assert forged.status == 401
        assert await svc.db.query(lambda s: s.scalar(select(CsatSurvey.rated_at))) is None
        pressed = await adapter.handle_webhook(
            signed_interaction(block_action("csat_rate_4", value, response_url=fake_slack.response_url("r1")))
        )
        assert pressed.status == 200 and json.loads(pressed.body)["outcome"] == "rated"
        assert fake_slack.responses["r1"] == [{"replace_original": True, "text": "¡Gracias por su valoración!"}]  # Ana writes in Spanish
        assert "¿Qué tal le atendimos?" in post.text
        again = await adapter.handle_webhook(signed_interaction(block_action("csat_rate_1", value)))
        assert json.loads(again.body)["outcome"] == "already_rated"
    finally:
        await adapter.stop()
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.rated_via) == (4, "slack")


def make_slack_config(fake: FakeSlack) -> SlackConfig:
    return SlackConfig.model_validate(
        {
            "name": "slack",
            "type": "slack",
            "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "api_url": fake.api_url,
            "support_channels": ["C0SUPPORT"],
            "csat": True,
        }
    )
