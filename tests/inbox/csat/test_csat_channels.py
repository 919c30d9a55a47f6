"""Satisfaction surveys on chat channels: Telegram inline buttons answered by callback
queries (against the fake Bot API), Slack buttons (block actions, signature-verified) —
both the one interaction path the change approvals' buttons take (Services.interact) —
and the comment each offers after the press: a reply to Telegram's prompt, the signed
comment page Slack's answer links to."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from channels.base import ChannelContext
from channels.slack import SlackChannel, SlackConfig
from channels.telegram import TelegramChannel, TelegramConfig
from inbox.pipeline.outbox import OutboxWorker
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import CsatSurvey, Event, Message
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
from tests.fixtures.fake_telegram import BOT_ID, BOT_USERNAME, TOKEN, FakeTelegram, callback_query, fake_telegram, message, user  # noqa: F401
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
    adapter = TelegramChannel(config, ChannelContext(public_url="http://127.0.0.1:8000"))  # the node's own public URL
    yield adapter
    await adapter.stop()


async def test_telegram_buttons_rate_once_through_the_callback_query(
    services: Services, fake_telegram: FakeTelegram, telegram: TelegramChannel
) -> None:
    svc = services
    ref = await channel(svc, "tg", "telegram")
    ana = user(701, "Ana", language="es")
    fake_telegram.add_update({"message": message(ana, "Mi pedido no llega", message_id=3)})
    await telegram.start(ChannelSink(svc.ingestor, ref, interactions=svc.interact))
    from inbox.store.models import Conversation

    cid = await eventually_db(svc, lambda s: s.scalar(select(Conversation.id)))
    await resolve(svc, cid)
    await drain(svc, telegram)
    [question] = fake_telegram.sent_to(701)
    assert "¿Qué tal le atendimos?" in (question.visible or "")
    buttons = question.reply_markup["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    assert [b["callback_data"].split("|")[0] for b in buttons] == [f"csat_rate_{n}" for n in range(1, 6)]
    fake_telegram.add_update(callback_query(ana, buttons[4]["callback_data"], question))
    await eventually(lambda: fake_telegram.answers, what="the callback answer")
    assert fake_telegram.answers[0][1] == "¡Gracias por su valoración!"
    await eventually(lambda: not fake_telegram.sent_to(701)[0].reply_markup, what="the buttons removed")
    # The comment is offered: a message to reply to (force_reply), linking the comment page.
    prompt = (await eventually(lambda: fake_telegram.sent_to(701)[1:], what="the comment prompt"))[0]
    assert "Responda a este mensaje para añadir un comentario" in (prompt.visible or "")
    assert prompt.reply_markup["force_reply"] is True and prompt.reply_to == question.message_id
    [url] = re.findall(r'href="([^"]+)"', prompt.text or "")
    assert url.startswith("http://127.0.0.1:8000/csat/")
    fake_telegram.add_update(callback_query(ana, buttons[0]["callback_data"], question))
    await eventually(lambda: len(fake_telegram.answers) == 2, what="the second answer")
    assert fake_telegram.answers[1][1] == "Ya la valoró. ¡Gracias!"
    # A forged callback (another rating under a made-up token, in the older csat:<token>:<n> form) changes nothing.
    fake_telegram.add_update(callback_query(ana, "csat:1.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA:1", question))
    await eventually(lambda: len(fake_telegram.answers) == 3, what="the third answer")
    assert fake_telegram.answers[2][1] == "Esta encuesta ha caducado."
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.rated_via, survey.comment) == (5, "telegram", None)

    # Ana replies to the prompt: that is the rating's comment, not a message in the conversation.
    messages_before = await svc.db.query(lambda s: s.scalar(select(func.count()).select_from(Message)))

    def reply(text: str) -> dict[str, object]:
        quoted = {
            "message_id": prompt.message_id,
            "date": 0,
            "chat": {"id": 701, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Frontdesk Test", "username": BOT_USERNAME},
            "text": prompt.visible,
            "entities": [{"type": "text_link", "offset": 0, "length": 5, "url": url}],
        }
        return {"message": message(ana, text, reply_to_message=quoted)}

    fake_telegram.add_update(reply("Muy amables, gracias"))
    await eventually(lambda: "comentario se ha añadido" in (fake_telegram.sent_to(701)[1].visible or ""), what="the prompt answered")
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.comment) == (5, "Muy amables, gracias")
    fake_telegram.add_update(reply("Otra cosa"))  # a second comment is refused; still no message
    await eventually(lambda: "ya tiene un comentario" in (fake_telegram.sent_to(701)[1].visible or ""), what="the second comment refused")
    assert await svc.db.query(lambda s: s.scalar(select(func.count()).select_from(Message))) == messages_before
    assert await svc.db.query(lambda s: s.scalars(select(CsatSurvey.comment)).one()) == "Muy amables, gracias"
    events = await svc.db.query(lambda s: s.scalars(select(Event.type).where(Event.type.like("csat.%")).order_by(Event.seq)).all())
    assert events == ["csat.requested", "csat.rated", "csat.commented"]
    # An ordinary message from Ana afterwards is a message again.
    fake_telegram.add_update({"message": message(ana, "Una pregunta nueva")})
    await eventually_db(svc, lambda s: s.scalar(select(func.count()).select_from(Message)) > messages_before)


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
    await adapter.start(ChannelSink(svc.ingestor, ref, interactions=svc.interact))
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
        assert [b["text"]["text"] for b in buttons] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
        forged = await adapter.handle_webhook(signed_interaction(block_action("csat_rate_1", value), secret="not-the-secret"))
        assert forged.status == 401
        assert await svc.db.query(lambda s: s.scalar(select(CsatSurvey.rated_at))) is None
        pressed = await adapter.handle_webhook(
            signed_interaction(block_action("csat_rate_4", value, response_url=fake_slack.response_url("r1")))
        )
        assert pressed.status == 200
        # The buttons are replaced by the thanks and the link to the comment page (Ana writes in Spanish).
        [answer] = fake_slack.responses["r1"]
        link = f"{svc.config.server.public_url}/csat/{value}"
        assert answer == {"replace_original": True, "text": f"¡Gracias por su valoración! <{link}|Añadir un comentario>"}
        assert "¿Qué tal le atendimos?" in post.text
        again = await adapter.handle_webhook(
            signed_interaction(block_action("csat_rate_1", value, response_url=fake_slack.response_url("r2")))
        )
        assert again.status == 200 and fake_slack.responses["r2"] == [{"replace_original": True, "text": "Ya la valoró. ¡Gracias!"}]
    finally:
        await adapter.stop()
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.rated_via, survey.comment) == (4, "slack", None)
    # The comment page the link opens: the comment box alone, once.
    from inbox.web.app import create_app

    app = create_app(svc)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        path = link.removeprefix(svc.config.server.public_url)
        page = await client.get(path)
        assert (
            page.status_code == 200 and "Añadir un comentario" in page.text and "4 de 5" in page.text and 'name="rating"' not in page.text
        )
        assert (await client.post(path, data={"comment": "  "})).status_code == 422
        done = await client.post(path, data={"comment": "Rápidos y amables"})
        assert done.status_code == 200 and "Su comentario se ha añadido" in done.text
        assert (await client.post(path, data={"comment": "Otra vez"})).status_code == 409
        assert "ya fue respondida" in (await client.get(path)).text
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.comment) == (4, "Rápidos y amables")


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
