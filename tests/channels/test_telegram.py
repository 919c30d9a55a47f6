"""The Telegram adapter against a fake Bot API server, with an in-memory inbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from channels.base import (
    ChannelContext,
    OutboundAttachment,
    OutboundMessage,
    PermanentSendError,
    Recipient,
    TransientSendError,
    WebhookRequest,
)
from channels.telegram import TelegramChannel, TelegramConfig
from channels.telegram_pacing import Limits, SendPacer
from tests.fixtures.fake_telegram import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    fake_telegram,  # noqa: F401
    group,
    mention_entities,
    message,
    user,
)
from tests.fixtures.memory_sink import MemorySink, eventually

SECRET = "s3cret-token_for-webhooks"
Factory = Callable[..., TelegramChannel]


@pytest.fixture
async def make_channel(fake_telegram: FakeTelegram) -> AsyncIterator[Factory]:
    built: list[TelegramChannel] = []

    def build(**overrides: Any) -> TelegramChannel:
        raw: dict[str, Any] = {
            "name": "tg",
            "type": "telegram",
            "token": TOKEN,
            "api_base_url": fake_telegram.api_base_url,
            "poll_timeout": 5,
        }
        raw.update(overrides)
        channel = TelegramChannel(TelegramConfig.model_validate(raw), ChannelContext(public_url="http://support.test"))
        built.append(channel)
        return channel

    yield build
    for channel in built:
        await channel.stop()


def outbound(chat_id: int, text: str = "Hola", **kw: Any) -> OutboundMessage:
    kw.setdefault("conversation_meta", {"chat_id": chat_id, "chat_type": "private"})
    return OutboundMessage(
        idempotency_key=kw.pop("key", f"k-{chat_id}-{text[:10]}"),
        recipient=Recipient(str(chat_id)),
        text=text,
        **kw,
    )


# -- config ---------------------------------------------------------------------------------


def test_webhook_mode_without_secret_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="webhook_secret"):
        TelegramConfig.model_validate({"name": "tg", "type": "telegram", "token": TOKEN, "mode": "webhook"})


def test_malformed_token_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="token"):
        TelegramConfig.model_validate({"name": "tg", "type": "telegram", "token": "not a token"})


def test_file_url_is_derived_from_the_api_base_url() -> None:
    config = TelegramConfig.model_validate(
        {
            "name": "tg",
            "type": "telegram",
            "token": TOKEN,
            "api_base_url": "http://127.0.0.1:8081/bot",
        }
    )
    assert config.file_url == "http://127.0.0.1:8081/file/bot"
    assert TelegramConfig.model_validate({"name": "t", "type": "telegram", "token": TOKEN}).file_url == "https://api.telegram.org/file/bot"


# -- receiving by polling ---------------------------------------------------------------------


async def test_private_message_is_ingested_with_the_contacts_name_username_and_language(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    ana = user(501, "Ana", last_name="García", username="anag", language="es-ES")
    update = fake_telegram.add_update({"message": message(ana, "¿Dónde está mi pedido?", message_id=7)})
    sink = MemorySink()
    await make_channel().start(sink)

    stored = await eventually(lambda: sink.messages.get("501:7"), what="the message")
    m = stored.message
    assert m.text == "¿Dónde está mi pedido?"
    assert m.thread_key == "501"
    assert (m.sender.address, m.sender.name, m.sender.username, m.sender.language) == (
        "501",
        "Ana García",
        "anag",
        "es",
    )
    assert m.meta == {"chat_id": 501, "message_id": 7, "chat_type": "private"}
    assert m.raw and b"Donde" not in m.raw and "¿Dónde".encode() in m.raw
    assert sink.committed_cursor == str(update["update_id"] + 1)


async def test_offset_is_confirmed_only_after_the_ingest_commits(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    update = fake_telegram.add_update({"message": message(user(502), "first", message_id=1)})
    sink = MemorySink()
    sink.fail_next_ingest()
    await make_channel().start(sink)

    await eventually(lambda: sink.ingest_calls >= 1, what="the first (failing) ingest")
    # The commit failed: Telegram still holds the update, and is asked for it again.
    assert fake_telegram.pending_update_ids() == [update["update_id"]]
    assert sink.committed_cursor is None
    await eventually(lambda: "502:1" in sink.messages, what="the retried ingest")
    await eventually(
        lambda: update["update_id"] + 1 in fake_telegram.offsets_asked(),
        what="the confirming getUpdates",
    )
    assert fake_telegram.pending_update_ids() == []


async def test_restart_after_commit_resumes_at_the_committed_offset_and_repeats_nothing(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    sink = MemorySink()
    first = make_channel()
    await first.start(sink)
    for i in range(3):
        fake_telegram.add_update({"message": message(user(503), f"m{i}", message_id=10 + i)})
    await eventually(lambda: len(sink.messages) == 3, what="three messages")
    # Stop right after the commit, before the confirming getUpdates could matter.
    await first.stop()
    calls_before = sink.ingest_calls
    for i in range(3, 5):
        fake_telegram.add_update({"message": message(user(503), f"m{i}", message_id=10 + i)})
    await make_channel().start(sink)
    await eventually(lambda: len(sink.messages) == 5, what="five messages")
    assert sorted(sink.texts()) == ["m0", "m1", "m2", "m3", "m4"]
    # Every ingest after the restart held only new messages.
    assert sink.ingest_calls - calls_before >= 1


async def test_group_chatter_is_skipped_but_mentions_replies_and_commands_open_a_group_conversation(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    chat = group(-100777, "Acme customers")
    ana, luis = user(504, "Ana"), user(505, "Luis")
    mention = f"@{BOT_USERNAME} the invoice is wrong"
    fake_telegram.add_update({"message": message(ana, "hi all", chat=chat, message_id=1)})
    fake_telegram.add_update({"message": message(ana, mention, chat=chat, message_id=2, entities=mention_entities(mention))})
    bot_message = {
        "message_id": 3,
        "date": 0,
        "chat": chat,
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
        "text": "How can I help?",
    }
    fake_telegram.add_update({"message": message(luis, "me too", chat=chat, message_id=4, reply_to_message=bot_message)})
    command = f"/help@{BOT_USERNAME}"
    last = fake_telegram.add_update(
        {
            "message": message(
                luis,
                command,
                chat=chat,
                message_id=5,
                entities=[{"type": "bot_command", "offset": 0, "length": len(command)}],
            )
        }
    )
    sink = MemorySink()
    await make_channel().start(sink)

    await eventually(lambda: sink.committed_cursor == str(last["update_id"] + 1), what="the cursor past all four")
    assert sorted(sink.messages) == ["-100777:2", "-100777:4", "-100777:5"]
    for stored in sink.messages.values():
        assert stored.message.thread_key == "-100777"
        assert stored.message.meta["chat_type"] == "supergroup"
        assert stored.message.meta["chat_title"] == "Acme customers"
    assert sink.messages["-100777:4"].message.sender.address == "505"
    assert sink.messages["-100777:4"].message.references == ("-100777:3",)


async def test_edited_message_updates_the_stored_text_and_keeps_the_original(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    ana = user(506)
    original = message(ana, "my order is 1234", message_id=20)
    fake_telegram.add_update({"message": original})
    sink = MemorySink()
    await make_channel().start(sink)
    await eventually(lambda: "506:20" in sink.messages, what="the original")

    fake_telegram.add_update(
        {
            "edited_message": {
                **original,
                "text": "my order is 1243",
                "edit_date": original["date"] + 60,
            }
        }
    )
    await eventually(lambda: sink.messages["506:20"].text == "my order is 1243", what="the edit")
    assert sink.messages["506:20"].original_text == "my order is 1234"
    assert len(sink.messages) == 1


async def test_photos_documents_and_voice_notes_become_attachments(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    ana = user(507)
    small_id, small_u = fake_telegram.add_file(b"small-jpeg", "photos/file_1.jpg")
    big_id, big_u = fake_telegram.add_file(b"big-jpeg-bytes", "photos/file_2.jpg")
    doc_id, doc_u = fake_telegram.add_file(b"%PDF-1.4 invoice", "documents/file_3.pdf")
    voice_id, voice_u = fake_telegram.add_file(b"OggS voice", "voice/file_4.oga")
    photo = [
        {
            "file_id": small_id,
            "file_unique_id": small_u,
            "width": 90,
            "height": 90,
            "file_size": 10,
        },
        {"file_id": big_id, "file_unique_id": big_u, "width": 1280, "height": 960, "file_size": 14},
    ]
    fake_telegram.add_update({"message": message(ana, message_id=30, photo=photo, caption="the broken part")})
    document = {
        "file_id": doc_id,
        "file_unique_id": doc_u,
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
        "file_size": 16,
    }
    fake_telegram.add_update({"message": message(ana, message_id=31, document=document)})
    voice = {
        "file_id": voice_id,
        "file_unique_id": voice_u,
        "duration": 3,
        "mime_type": "audio/ogg",
        "file_size": 10,
    }
    fake_telegram.add_update({"message": message(ana, message_id=32, voice=voice)})
    sink = MemorySink()
    await make_channel().start(sink)

    await eventually(lambda: len(sink.messages) == 3, what="three messages")
    [photo_att] = sink.messages["507:30"].message.attachments
    assert (photo_att.filename, photo_att.content_type, photo_att.data) == (
        f"photo_{big_u}.jpg",
        "image/jpeg",
        b"big-jpeg-bytes",
    )
    assert sink.messages["507:30"].text == "the broken part"
    [doc_att] = sink.messages["507:31"].message.attachments
    assert (doc_att.filename, doc_att.content_type, doc_att.data) == (
        "invoice.pdf",
        "application/pdf",
        b"%PDF-1.4 invoice",
    )
    [voice_att] = sink.messages["507:32"].message.attachments
    assert (voice_att.filename, voice_att.content_type, voice_att.data) == (
        f"voice_{voice_u}.ogg",
        "audio/ogg",
        b"OggS voice",
    )


async def test_a_file_over_the_size_limit_is_noted_in_the_text_and_not_fetched(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    doc_id, doc_u = fake_telegram.add_file(b"x" * 100, "documents/big.bin")
    document = {
        "file_id": doc_id,
        "file_unique_id": doc_u,
        "file_name": "big.bin",
        "file_size": 100,
    }
    fake_telegram.add_update({"message": message(user(508), message_id=40, document=document)})
    sink = MemorySink()
    await make_channel(max_attachment_bytes=50).start(sink)

    stored = await eventually(lambda: sink.messages.get("508:40"), what="the message")
    assert stored.message.attachments == ()
    assert "big.bin not downloaded" in stored.text
    assert not any(method == "getFile" for method, _ in fake_telegram.calls)


async def test_unreadable_update_is_quarantined_and_the_cursor_moves_on(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    fake_telegram.add_raw_update(
        {
            "update_id": 9001,
            "message": {"message_id": 1, "date": 0, "chat": "not-a-chat", "from": user(509)},
        }
    )
    fake_telegram.add_raw_update({"update_id": 9002, "message": message(user(509), "after the bad one", message_id=2)})
    sink = MemorySink()
    await make_channel().start(sink)

    await eventually(lambda: sink.committed_cursor == "9003", what="the cursor past both")
    [(raw, error, external_id)] = sink.quarantined
    assert external_id == "update:9001" and b"not-a-chat" in raw and error
    assert list(sink.messages) == ["509:2"]


async def test_polling_stores_an_update_with_lone_surrogates_repaired_and_moves_on(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    # The fake sends "\ud800" escapes as Telegram would; storing them raw was impossible
    # and the poll retried the same batch for ever.
    odd = user(514, "\ud800", username="x\udc80")
    first = fake_telegram.add_update({"message": message(odd, "lone \udc80 surrogate", message_id=1)})
    fake_telegram.add_update({"message": message(user(515), "behind it", message_id=1)})
    sink = MemorySink()
    await make_channel().start(sink)

    await eventually(lambda: sink.committed_cursor == str(first["update_id"] + 2), what="the cursor past both")
    stored = sink.messages["514:1"].message
    assert (stored.text, stored.sender.name, stored.sender.username) == (
        "lone \ufffd surrogate",
        "\ufffd",
        "x\ufffd",
    )
    assert "515:1" in sink.messages


async def test_polling_quarantines_an_update_of_the_wrong_shape_and_moves_on(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    nested: list[Any] = []
    for _ in range(200):
        nested = [nested]
    fake_telegram.add_raw_update({"update_id": 9101, "message": {**message(user(516), "x", message_id=1), "text": {"a": 1}}})
    fake_telegram.add_raw_update({"update_id": 9102, "message": {**message(user(516), "x", message_id=2), "photo": nested}})
    fake_telegram.add_raw_update({"update_id": 9103, "message": message(user(516), "fine", message_id=3)})
    sink = MemorySink()
    await make_channel().start(sink)

    await eventually(lambda: sink.committed_cursor == "9104", what="the cursor past all three")
    assert [external_id for _, _, external_id in sink.quarantined] == ["update:9101", "update:9102"]
    assert "text must be a JSON string" in sink.quarantined[0][1] and "nested deeper" in sink.quarantined[1][1]
    assert list(sink.messages) == ["516:3"]


async def test_polling_removes_a_leftover_webhook(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    fake_telegram.webhook_url = "https://old.example.com/hook"
    fake_telegram.add_update({"message": message(user(510), "hello", message_id=1)})
    sink = MemorySink()
    await make_channel().start(sink)
    await eventually(lambda: "510:1" in sink.messages, timeout=30, what="the message after the conflict")
    assert fake_telegram.webhook_url == ""


# -- receiving by webhook ----------------------------------------------------------------------


def hook(body: bytes, secret: str | None = SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest("POST", "/hooks/telegram/tg", headers, body)


async def test_webhook_is_registered_on_start_with_the_secret_token(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    await make_channel(mode="webhook", webhook_secret=SECRET).start(MemorySink())
    await eventually(lambda: fake_telegram.webhook_url, what="setWebhook")
    assert fake_telegram.webhook_url == "http://support.test/hooks/telegram/tg"
    assert fake_telegram.webhook_secret == SECRET
    [(_, params)] = [c for c in fake_telegram.calls if c[0] == "setWebhook"]
    assert params["allowed_updates"] == ["message", "edited_message", "callback_query"]  # callback queries: the rating buttons


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", "ñ"])
async def test_webhook_with_a_wrong_or_missing_secret_is_refused_and_nothing_stored(make_channel: Factory, secret: str | None) -> None:
    channel = make_channel(mode="webhook", webhook_secret=SECRET)
    sink = MemorySink()
    await channel.start(sink)

    body = json.dumps({"update_id": 1, "message": message(user(511), "hi", message_id=1)}).encode()
    response = await channel.handle_webhook(hook(body, secret))
    assert response.status == 403
    assert sink.messages == {} and sink.ingest_calls == 0


DEEP_UPDATE = b'{"update_id": 8, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b"\xff\xfe",
        DEEP_UPDATE,
        b'{"update_id": 9, "message": 5}',
        b'{"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": {}}}',
        b'{"update_id": 9, "message": {"message_id": "1", "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": "x"}}',
        b'{"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": []}, "text": "x"}}',
        b'{"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": [], "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": "x"}}',
        b'{"update_id": 9, "edited_message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": "x", "entities": [{"type": "bold", "offset": "0", "length": 1}]}}',
        b'{"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": false, "first_name": "A"}, "document": {"file_id": 7}}}',
        b'{"update_id": 1e400}',
        b'{"update_id": NaN}',
    ],
)
async def test_a_signed_body_that_can_never_be_read_is_quarantined_and_confirmed_with_200(make_channel: Factory, body: bytes) -> None:
    # Telegram delivers a refused update again and again, holding up the ones after it.
    channel = make_channel(mode="webhook", webhook_secret=SECRET)
    sink = MemorySink()
    await channel.start(sink)
    response = await channel.handle_webhook(hook(body))
    assert response.status == 200
    assert json.loads(response.body) == {"ok": True, "quarantined": True}
    [(raw, error, _)] = sink.quarantined
    assert error and raw
    assert sink.messages == {}


async def test_a_webhook_update_with_lone_surrogates_is_stored_repaired(
    make_channel: Factory,
) -> None:
    channel = make_channel(mode="webhook", webhook_secret=SECRET)
    sink = MemorySink()
    await channel.start(sink)
    update = {
        "update_id": 10,
        "message": message(user(513, "An\ud800a", last_name="\udfff"), "hola \ud800 mundo", message_id=4),
    }
    response = await channel.handle_webhook(hook(json.dumps(update).encode()))
    assert response.status == 200
    stored = sink.messages["513:4"].message
    assert (stored.text, stored.sender.name) == ("hola \ufffd mundo", "An\ufffda \ufffd")
    assert stored.raw is not None and "\ufffd".encode() in stored.raw
    assert sink.quarantined == []


async def test_webhook_update_is_ingested_once_even_when_delivered_twice(
    make_channel: Factory,
) -> None:

    channel = make_channel(mode="webhook", webhook_secret=SECRET)
    sink = MemorySink()
    await channel.start(sink)
    body = json.dumps({"update_id": 5, "message": message(user(512), "hola", message_id=3)}).encode()
    assert (await channel.handle_webhook(hook(body))).status == 200
    assert (await channel.handle_webhook(hook(body))).status == 200
    assert list(sink.messages) == ["512:3"]


# -- sending -------------------------------------------------------------------------------------


async def test_reply_text_is_escaped_for_telegram_html(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    channel = make_channel()
    result = await channel.send(outbound(601, '1 < 2 & <b>not bold</b> "quoted"'))
    [sent] = fake_telegram.sent_to(601)
    assert sent.parse_mode == "HTML"
    assert sent.visible == '1 < 2 & <b>not bold</b> "quoted"'
    assert result.external_id == f"601:{sent.message_id}"


async def test_html_reply_keeps_bold_links_and_code_in_telegrams_subset(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    html = '<p>Hi <strong>Ana</strong>, see <a href="https://x.test/?a=1&amp;b=2">the guide</a>.</p><ul><li>step <code>a&lt;b</code></li></ul><h2>Done</h2><table><tr><td>x</td></tr></table>'
    await make_channel().send(outbound(602, "fallback", html=html))
    [sent] = fake_telegram.sent_to(602)
    assert (
        sent.text
        == 'Hi <b>Ana</b>, see <a href="https://x.test/?a=1&amp;b=2">the guide</a>.\n\n• step <code>a&lt;b</code>\n\n<b>Done</b>\n\nx'
    )
    assert sent.visible == "Hi Ana, see the guide.\n\n• step a<b\n\nDone\n\nx"


async def test_a_reply_longer_than_4096_characters_goes_out_in_several_messages(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    channel = make_channel()
    channel.pacer = SendPacer(Limits(per_chat_interval=0.0))
    text = " ".join(f"word{i}" for i in range(1500))  # 13,389 characters
    result = await channel.send(outbound(603, text))
    sent = fake_telegram.sent_to(603)
    assert len(sent) == 4
    assert all(s.visible and len(s.visible) <= 4096 for s in sent)
    assert " ".join(s.visible.strip() for s in sent if s.visible) == text
    assert result.meta["message_ids"] == [s.message_id for s in sent]


async def test_reply_in_a_group_is_threaded_to_the_customers_message(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    meta = {"chat_id": -100888, "chat_type": "supergroup"}
    await make_channel().send(
        outbound(
            -100888,
            "On it",
            conversation_meta=meta,
            in_reply_to="-100888:42",
            references=("-100888:42",),
        )
    )
    [sent] = fake_telegram.sent_to(-100888)
    assert sent.reply_to == 42


async def test_reply_in_a_private_chat_threads_only_when_other_messages_came_after(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    channel = make_channel()
    channel.pacer = SendPacer(Limits(per_chat_interval=0.0))
    await channel.send(outbound(604, "answer", key="a", in_reply_to="604:9", references=("604:9",)))
    await channel.send(outbound(604, "more", key="b", in_reply_to="604:9", references=("604:9", "604:10")))
    first, second = fake_telegram.sent_to(604)
    assert first.reply_to is None
    assert second.reply_to == 9


async def test_a_429_is_a_transient_error_with_retry_after_and_the_message_is_sent_exactly_once(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    channel = make_channel()
    fake_telegram.rate_limit(605, retry_after=3)
    with pytest.raises(TransientSendError) as caught:
        await channel.send(outbound(605, "patience"))
    assert caught.value.retry_after == 3
    assert fake_telegram.sent_to(605) == []
    # The pacer holds the chat for the time Telegram asked; the outbox retries after it.
    channel.pacer = SendPacer(Limits(per_chat_interval=0.0))
    await channel.send(outbound(605, "patience"))
    assert [s.visible for s in fake_telegram.sent_to(605)] == ["patience"]


async def test_a_retry_after_a_429_on_a_later_part_does_not_send_earlier_parts_again(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    channel = make_channel()
    channel.pacer = SendPacer(Limits(per_chat_interval=0.0))
    reply = outbound(606, "see the file", attachments=(OutboundAttachment("log.txt", "text/plain", b"log"),))
    fake_telegram.rate_limit(606, retry_after=1, times=1)
    with pytest.raises(TransientSendError):
        await channel.send(reply)  # the text part hits the 429
    await channel.send(reply)
    assert [s.method for s in fake_telegram.sent_to(606)] == ["sendMessage", "sendDocument"]


async def test_a_user_who_blocked_the_bot_is_a_permanent_failure_with_the_reason(
    fake_telegram: FakeTelegram, make_channel: Factory
) -> None:
    fake_telegram.block(607)
    with pytest.raises(PermanentSendError, match="bot was blocked by the user"):
        await make_channel().send(outbound(607, "hello?"))


async def test_attachments_go_out_as_photo_and_document(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    channel = make_channel()
    channel.pacer = SendPacer(Limits(per_chat_interval=0.0))
    files = (
        OutboundAttachment("shot.png", "image/png", b"\x89PNG..."),
        OutboundAttachment("report.pdf", "application/pdf", b"%PDF"),
    )
    await channel.send(outbound(608, "two files", attachments=files))
    text, photo, document = fake_telegram.sent_to(608)
    assert text.visible == "two files"
    assert (photo.method, photo.filename, photo.data) == ("sendPhoto", "shot.png", b"\x89PNG...")
    assert (document.method, document.filename, document.data) == (
        "sendDocument",
        "report.pdf",
        b"%PDF",
    )


async def test_sends_to_one_chat_are_spaced_by_a_second(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    channel = make_channel()
    sends = [channel.send(outbound(609, f"n{i}", key=f"n{i}")) for i in range(3)]
    await asyncio.gather(*sends, channel.send(outbound(610, "other chat")))  # not held up by 609's pace
    times = [s.at for s in fake_telegram.sent_to(609)]
    assert [b - a >= 0.95 for a, b in zip(times, times[1:], strict=False)] == [True, True]
    assert fake_telegram.sent_to(610)[0].at - times[0] < 0.9


def test_pacer_reserves_slots_per_chat_and_per_bot_and_defers_long_waits() -> None:
    now = [100.0]
    pacer = SendPacer(Limits(per_chat_interval=1.0, per_bot_rate=30.0, max_wait=2.5), clock=lambda: now[0])
    assert pacer.reserve(1) == 0.0
    assert pacer.reserve(1) == pytest.approx(1.0)
    assert pacer.reserve(2) == pytest.approx(1 / 30)  # next to chat 1's first send, not behind its second
    assert pacer.reserve(1) == pytest.approx(2.0)
    from channels.telegram_pacing import TooSoon

    with pytest.raises(TooSoon):
        pacer.reserve(1)  # 3 s away: more than max_wait
    pacer.hold(3, 10.0)
    with pytest.raises(TooSoon) as caught:
        pacer.reserve(3)
    assert caught.value.retry_after == pytest.approx(10.0)


def test_a_put_off_send_keeps_its_place_in_line_and_is_put_off_once() -> None:
    from channels.telegram_pacing import TooSoon

    now = [0.0]
    pacer = SendPacer(Limits(per_chat_interval=1.0, max_wait=2.0, come_back_early=0.5), clock=lambda: now[0])
    put_off: dict[str, float] = {}
    for key in "abcdefgh":
        try:
            pacer.reserve(7, key)
        except TooSoon as exc:
            put_off[key] = exc.retry_after
    assert sorted(put_off) == list("defgh")  # slots 0, 1, 2 s were within max_wait
    assert put_off["d"] == pytest.approx(2.5) and put_off["h"] == pytest.approx(6.5)
    now[0] = 6.5  # h comes back when told, ahead of a newcomer
    assert pacer.reserve(7, "h") == pytest.approx(0.5)
    assert pacer.reserve(7, "newcomer") == pytest.approx(1.5)  # behind the whole line: slot 8 s


def test_pacer_keeps_the_whole_bot_under_30_messages_a_second() -> None:
    pacer = SendPacer(Limits(per_bot_rate=30.0, max_wait=60.0), clock=lambda: 0.0)
    waits = [pacer.reserve(chat) for chat in range(61)]
    assert waits[29] < 0.99 and waits[30] == pytest.approx(1.0)
    assert waits[60] == pytest.approx(2.0)


# -- check ----------------------------------------------------------------------------------------


async def test_check_reports_the_bot_from_get_me(make_channel: Factory) -> None:
    results = await make_channel().check()
    assert results[0].what == "getMe" and results[0].ok
    assert f"@{BOT_USERNAME}" in results[0].detail and str(BOT_ID) in results[0].detail


async def test_check_fails_on_a_refused_token(make_channel: Factory) -> None:
    results = await make_channel(token="42:refused-token").check()
    assert [(r.what, r.ok) for r in results] == [("getMe", False)]
    assert "refused" in results[0].detail and "refused-token" not in results[0].detail


async def test_check_in_webhook_mode_reports_the_registered_url(fake_telegram: FakeTelegram, make_channel: Factory) -> None:
    fake_telegram.webhook_url = "http://support.test/hooks/telegram/tg"
    results = await make_channel(mode="webhook", webhook_secret=SECRET).check()
    assert [(r.what, r.ok) for r in results] == [("getMe", True), ("webhook", True)]


def test_parse_reads_a_quarantined_update_again_even_from_a_group() -> None:

    config = TelegramConfig.model_validate({"name": "tg", "type": "telegram", "token": TOKEN})
    channel = TelegramChannel(config, ChannelContext(public_url="http://support.test"))
    raw = json.dumps(
        {
            "update_id": 3,
            "message": message(user(611), "not addressed", chat=group(-100999), message_id=8),
        }
    ).encode()
    parsed = channel.parse(raw)
    assert (parsed.external_id, parsed.text, parsed.thread_key) == (
        "-100999:8",
        "not addressed",
        "-100999",
    )
    with pytest.raises(ValueError):
        channel.parse(b'{"update_id": 4, "message": {"chat": 1}}')
