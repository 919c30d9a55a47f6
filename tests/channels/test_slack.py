"""The Slack adapter against a local fake of Slack's Web API and Socket Mode server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from channels.base import (
    ChannelContext,
    OutboundAttachment,
    OutboundMessage,
    PermanentSendError,
    Recipient,
    TransientSendError,
    WebhookRequest,
)
from channels.slack import SlackChannel, SlackConfig, plain_text
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import Message
from tests.fixtures.fake_slack import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    FakeSlack,
    event_callback,
    fake_slack,  # noqa: F401
    message_event,
    signed_request,
)
from tests.fixtures.inbox import add_channel
from tests.fixtures.sink_double import MemorySink

CONTEXT = ChannelContext(public_url="http://127.0.0.1:8000")


def make_config(fake: FakeSlack, **overrides: object) -> SlackConfig:
    raw: dict[str, object] = {
        "name": "slack",
        "type": "slack",
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": fake.api_url,
        "support_channels": ["C0SUPPORT"],
    }
    raw.update(overrides)
    return SlackConfig.model_validate(raw)


@pytest.fixture
async def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
async def slack(fake_slack: FakeSlack, sink: MemorySink) -> AsyncIterator[SlackChannel]:  # noqa: F811
    channel = SlackChannel(make_config(fake_slack), CONTEXT)
    await channel.start(sink)
    yield channel
    await channel.stop()


async def deliver(slack: SlackChannel, event: dict[str, object], **kw: object) -> int:
    response = await slack.handle_webhook(signed_request(event_callback(event), **kw))  # type: ignore[arg-type]
    return response.status


async def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def outbound(key: str = "out-1", text: str = "Hello", **kw: object) -> OutboundMessage:
    kw.setdefault("recipient", Recipient(address="U0ANA", name="Ana García"))
    return OutboundMessage(idempotency_key=key, text=text, **kw)  # type: ignore[arg-type]


# -- verification -----------------------------------------------------------------------


async def test_url_verification_answers_the_challenge(slack: SlackChannel) -> None:
    body = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    response = await slack.handle_webhook(signed_request(body))
    assert response.status == 200
    assert b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.body


async def test_forged_slack_signature_is_rejected_and_nothing_stored(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(event_callback(message_event("I am not Slack")), secret="wrong-secret")
    response = await slack.handle_webhook(request)
    assert response.status == 401
    assert sink.messages == {} and sink.ingest_calls == 0


async def test_tampered_body_is_rejected(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(event_callback(message_event("original")))
    tampered = type(request)(
        request.method,
        request.path,
        request.headers,
        request.body.replace(b"original", b"tampered"),
    )
    assert (await slack.handle_webhook(tampered)).status == 401
    assert sink.messages == {}


async def test_stale_slack_signature_is_rejected_and_nothing_stored(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(event_callback(message_event("replayed later")), timestamp=int(time.time()) - 6 * 60)
    assert (await slack.handle_webhook(request)).status == 401
    assert sink.messages == {} and sink.ingest_calls == 0


async def test_unsigned_request_is_rejected(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(event_callback(message_event("no headers")))
    bare = type(request)(request.method, request.path, {"content-type": "application/json"}, request.body)
    assert (await slack.handle_webhook(bare)).status == 401
    assert sink.messages == {}


async def test_a_signed_body_that_is_not_json_is_refused_with_400(slack: SlackChannel, sink: MemorySink) -> None:
    response = await slack.handle_webhook(signed_request(b'{"type": "event_callback", "event": '))
    assert response.status == 400
    assert json.loads(response.body)["error"].startswith("unreadable body")
    assert sink.ingest_calls == 0


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("soon", "v0=abc"),
        ("１７００００００００", "v0=abc"),
        ("", "v0=abc"),
        ("1700000000", "v0=ñ"),
        ("-5", "v0=abc"),
        (None, None),
    ],
)
async def test_a_request_with_a_malformed_timestamp_or_signature_is_401_with_a_json_error(
    slack: SlackChannel, sink: MemorySink, timestamp: str | None, signature: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if timestamp is not None:
        headers["x-slack-request-timestamp"] = timestamp
    if signature is not None:
        headers["x-slack-signature"] = signature
    body = json.dumps(event_callback(message_event("who am I"))).encode()
    response = await slack.handle_webhook(WebhookRequest("POST", "/hooks/slack/slack", headers, body))
    assert response.status == 401
    assert json.loads(response.body) == {"error": "invalid signature"}
    assert sink.ingest_calls == 0


async def test_a_signed_body_nested_too_deep_is_refused_with_400(slack: SlackChannel, sink: MemorySink) -> None:
    body = b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await slack.handle_webhook(signed_request(body))
    assert response.status == 400 and "nested deeper" in json.loads(response.body)["error"]
    assert sink.ingest_calls == 0


async def test_ssl_check_is_answered_by_bolt(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(b"ssl_check=1&token=x")
    form = type(request)(
        request.method,
        request.path,
        {**request.headers, "content-type": "application/x-www-form-urlencoded"},
        request.body,
    )
    assert (await slack.handle_webhook(form)).status == 200
    assert sink.ingest_calls == 0


# -- conversations ------------------------------------------------------------------------


async def test_top_level_message_in_support_channel_opens_a_conversation(slack: SlackChannel, sink: MemorySink) -> None:
    assert await deliver(slack, message_event("Our invoices page is down", ts="1700000001.000100")) == 200
    stored = sink.messages["C0SUPPORT:1700000001.000100"].message
    assert stored.text == "Our invoices page is down"
    assert stored.thread_key == "C0SUPPORT:1700000001.000100"
    assert stored.meta == {"channel": "C0SUPPORT", "thread_ts": "1700000001.000100"}
    assert stored.sender.address == "U0ANA"
    assert stored.sender.name == "Ana García"
    assert stored.sender.email == "ana@example.com"
    assert stored.sender.language == "es"


async def test_the_message_keeps_the_payload_exactly_as_slack_signed_it(slack: SlackChannel, sink: MemorySink) -> None:
    request = signed_request(
        b'{"type":"event_callback","event_id":"Ev0RAW","event":' + json.dumps(message_event("caf\u00e9", ts="1.2")).encode() + b"}"
    )
    assert (await slack.handle_webhook(request)).status == 200
    assert sink.messages["C0SUPPORT:1.2"].message.raw == request.body


async def test_thread_replies_continue_the_conversation(slack: SlackChannel, sink: MemorySink) -> None:
    await deliver(slack, message_event("Help", ts="1700000001.000100"))
    await deliver(slack, message_event("More detail", ts="1700000002.000100", thread_ts="1700000001.000100"))
    await deliver(
        slack,
        message_event("Me too", user="U0BEN", ts="1700000003.000100", thread_ts="1700000001.000100"),
    )
    await deliver(slack, message_event("A new question", ts="1700000004.000100"))
    conversations = {s.message.external_id: s.conversation_id for s in sink.messages.values()}
    assert conversations["C0SUPPORT:1700000001.000100"] == conversations["C0SUPPORT:1700000002.000100"]
    assert conversations["C0SUPPORT:1700000001.000100"] == conversations["C0SUPPORT:1700000003.000100"]
    assert conversations["C0SUPPORT:1700000004.000100"] != conversations["C0SUPPORT:1700000001.000100"]


async def test_messages_outside_support_channels_are_ignored(slack: SlackChannel, sink: MemorySink) -> None:
    assert await deliver(slack, message_event("random chatter", channel="C0RANDOM")) == 200
    assert sink.messages == {}


async def test_direct_messages_continue_one_conversation_per_user(slack: SlackChannel, sink: MemorySink) -> None:
    await deliver(slack, message_event("hi, a question", channel="D0ANA", ts="1700000001.000100"))
    await deliver(slack, message_event("and another", channel="D0ANA", ts="1700000002.000100"))
    await deliver(slack, message_event("hello", user="U0BEN", channel="D0BEN", ts="1700000003.000100"))
    first, second, third = (
        sink.messages[k].message for k in ("D0ANA:1700000001.000100", "D0ANA:1700000002.000100", "D0BEN:1700000003.000100")
    )
    assert first.thread_key == second.thread_key == "dm:U0ANA"
    assert third.thread_key == "dm:U0BEN"
    assert first.meta == {"channel": "D0ANA"}
    assert len(sink.conversations) == 2


async def test_retries_and_replays_are_stored_once(slack: SlackChannel, sink: MemorySink) -> None:
    body = event_callback(message_event("only once", ts="1700000001.000100"), event_id="Ev0RETRY")
    assert (await slack.handle_webhook(signed_request(body))).status == 200
    assert (await slack.handle_webhook(signed_request(body, retry_num=1))).status == 200
    assert (await slack.handle_webhook(signed_request(body, retry_num=2))).status == 200
    # The same event under another event id (a replay within the signature window).
    replay = dict(body, event_id="Ev0REPLAY")
    assert (await slack.handle_webhook(signed_request(replay))).status == 200
    assert list(sink.messages) == ["C0SUPPORT:1700000001.000100"]
    assert sink.ingest_calls == 2  # retries of a known event id are acked without a write


async def test_a_failed_insert_is_not_acknowledged_so_slack_retries(slack: SlackChannel, sink: MemorySink) -> None:
    body = event_callback(message_event("while the database restarts", ts="1700000001.000100"))
    sink.fail_next = 1
    assert (await slack.handle_webhook(signed_request(body))).status == 500
    assert sink.messages == {}
    assert (await slack.handle_webhook(signed_request(body, retry_num=1))).status == 200
    assert list(sink.messages) == ["C0SUPPORT:1700000001.000100"]


async def test_edits_and_deletes_are_reflected(slack: SlackChannel, sink: MemorySink) -> None:
    await deliver(slack, message_event("teh printer", ts="1700000001.000100"))
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C0SUPPORT",
        "channel_type": "channel",
        "ts": "1700000009.000200",
        "hidden": True,
        "message": {
            "type": "message",
            "user": "U0ANA",
            "text": "the printer",
            "ts": "1700000001.000100",
            "edited": {"user": "U0ANA", "ts": "1700000009.000000"},
        },
        "previous_message": {
            "type": "message",
            "user": "U0ANA",
            "text": "teh printer",
            "ts": "1700000001.000100",
        },
    }
    assert await deliver(slack, edit) == 200
    stored = sink.messages["C0SUPPORT:1700000001.000100"]
    assert stored.text == "the printer" and stored.edits == 1
    delete = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C0SUPPORT",
        "channel_type": "channel",
        "ts": "1700000010.000300",
        "deleted_ts": "1700000001.000100",
        "hidden": True,
        "previous_message": {
            "type": "message",
            "user": "U0ANA",
            "text": "the printer",
            "ts": "1700000001.000100",
        },
    }
    assert await deliver(slack, delete) == 200
    assert stored.deleted


async def test_own_and_other_bots_messages_are_ignored(slack: SlackChannel, sink: MemorySink) -> None:
    await deliver(slack, message_event("our own reply", user=BOT_USER, bot_id=BOT_ID))
    await deliver(
        slack,
        message_event("a webhook bot", user="U0HOOK", subtype="bot_message", bot_id="B0OTHER"),
    )
    await deliver(slack, message_event("deploy finished", user="U0ROBOT"))
    await deliver(slack, message_event("someone joined", subtype="channel_join"))
    assert sink.messages == {}


async def test_files_become_attachments(slack: SlackChannel, sink: MemorySink, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.files["T0TEAM-F0LOG/error.log"] = b"Traceback: boom\n"
    event = message_event(
        "log attached",
        ts="1700000001.000100",
        subtype="file_share",
        files=[
            {
                "id": "F0LOG",
                "name": "error.log",
                "mimetype": "text/plain",
                "size": 16,
                "mode": "hosted",
                "url_private": fake_slack.file_url("T0TEAM-F0LOG/error.log"),
                "url_private_download": fake_slack.file_url("T0TEAM-F0LOG/error.log"),
            },
            {
                "id": "F0ELSE",
                "name": "elsewhere.png",
                "mimetype": "image/png",
                "size": 10,
                "url_private": "https://evil.example.com/steal-token.png",
            },
        ],
    )
    assert await deliver(slack, event) == 200
    stored = sink.messages["C0SUPPORT:1700000001.000100"].message
    assert [(a.filename, a.content_type, a.data) for a in stored.attachments] == [("error.log", "text/plain", b"Traceback: boom\n")]
    assert "[file not downloaded: elsewhere.png]" in stored.text


async def test_users_info_is_cached(slack: SlackChannel, sink: MemorySink, fake_slack: FakeSlack) -> None:  # noqa: F811
    for i in range(5):
        await deliver(slack, message_event(f"message {i}"))
    assert len(sink.messages) == 5
    assert fake_slack.count("users.info") == 1


async def test_unknown_user_is_stored_under_the_slack_id(slack: SlackChannel, sink: MemorySink, fake_slack: FakeSlack) -> None:  # noqa: F811
    await deliver(slack, message_event("from a shared channel", user="U0EXTERNAL", ts="1700000001.000100"))
    sender = sink.messages["C0SUPPORT:1700000001.000100"].message.sender
    assert sender.address == "U0EXTERNAL" and sender.email is None
    await deliver(slack, message_event("again", user="U0EXTERNAL"))
    assert fake_slack.count("users.info") == 1  # "user_not_found" is remembered for a while


async def test_a_malformed_message_event_is_quarantined_and_acked(slack: SlackChannel, sink: MemorySink) -> None:
    broken = {
        "type": "message",
        "user": "U0ANA",
        "text": "no ts",
        "channel": "C0SUPPORT",
        "channel_type": "channel",
    }
    assert await deliver(slack, broken) == 200
    assert sink.messages == {}
    [(raw, error, _)] = sink.quarantined
    assert "ts" in error
    with pytest.raises(ValueError):
        slack.parse(raw)


@pytest.mark.parametrize(
    "body",
    [
        {**event_callback({}), "event": 5},
        {**event_callback({}), "event": "message"},
        event_callback({**message_event("x"), "text": 42}),
        event_callback(message_event("x", user={"id": "U0ANA"})),
        event_callback(message_event("x", ts=1700000000.1)),
        event_callback({**message_event("x"), "channel": ["C0SUPPORT"]}),
        event_callback(message_event("x", thread_ts={"ts": "1"})),
        event_callback(message_event("x", files=5)),
        event_callback(message_event("x", files=["F1"])),
        event_callback(message_event("x", files=[{"id": "F1", "size": "big", "url_private": "https://files.slack.com/x"}])),
        event_callback(
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": "C0SUPPORT",
                "ts": "1.2",
                "message": "gone",
            }
        ),
        event_callback(
            {
                "type": "message",
                "subtype": "message_deleted",
                "channel": "C0SUPPORT",
                "ts": "1.2",
                "deleted_ts": 7,
            }
        ),
    ],
)
async def test_a_signed_event_with_fields_of_the_wrong_type_is_quarantined_and_acked(
    slack: SlackChannel, sink: MemorySink, body: dict[str, object]
) -> None:
    response = await slack.handle_webhook(signed_request(body))
    assert response.status == 200
    assert sink.messages == {}
    [(raw, error, _)] = sink.quarantined
    assert raw == json.dumps(body).encode() and "must be" in error


async def test_a_signed_body_with_an_event_id_that_is_not_a_string_is_still_stored(slack: SlackChannel, sink: MemorySink) -> None:
    body = {**event_callback(message_event("odd id", ts="1700000002.000100")), "event_id": ["Ev1"]}
    assert (await slack.handle_webhook(signed_request(body))).status == 200
    assert [m.text for m in sink.messages.values()] == ["odd id"]


async def test_a_stored_event_parses_again_for_quarantine_retry(slack: SlackChannel) -> None:
    body = json.dumps(event_callback(message_event("again", ts="1700000001.000100"))).encode()
    message = slack.parse(body)
    assert (message.external_id, message.text, message.sender.address) == (
        "C0SUPPORT:1700000001.000100",
        "again",
        "U0ANA",
    )
    with pytest.raises(ValueError):
        slack.parse(b"not json")


async def test_a_burst_of_events_shares_commits(slack: SlackChannel, sink: MemorySink) -> None:
    statuses = await asyncio.gather(*(deliver(slack, message_event(f"burst {i}")) for i in range(200)))
    assert set(statuses) == {200}
    assert len(sink.messages) == 200
    assert sink.ingest_calls < 200


def test_slack_markup_becomes_plain_text() -> None:
    text = "Hi <@U0BEN|ben>, see <https://x.io/a|the docs> in <#C0SUPPORT|support> &amp; <mailto:a@b.io|a@b.io> 1 &lt; 2"
    assert plain_text(text) == "Hi @ben, see the docs (https://x.io/a) in #support & a@b.io (mailto:a@b.io) 1 < 2"


# -- replies -------------------------------------------------------------------------------


async def test_reply_posts_in_the_thread_as_mrkdwn_with_the_agent_name(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    result = await slack.send(
        outbound(
            text="**Fixed** — see [status](https://status.example.com)",
            author_name="Marta",
            thread_key="C0SUPPORT:1700000001.000100",
            conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1700000001.000100"},
        )
    )
    [post] = fake_slack.posts
    assert post.channel == "C0SUPPORT" and post.thread_ts == "1700000001.000100"
    assert post.text == "*Marta:* *Fixed* — see <https://status.example.com|status>"
    assert result.external_id == f"C0SUPPORT:{post.ts}"


async def test_reply_can_show_the_agent_as_the_author(fake_slack: FakeSlack, sink: MemorySink) -> None:  # noqa: F811
    channel = SlackChannel(make_config(fake_slack, agent_display="username", icon_url="https://x.io/i.png"), CONTEXT)
    await channel.start(sink)
    try:
        await channel.send(outbound(author_name="Marta", conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"}))
    finally:
        await channel.stop()
    [post] = fake_slack.posts
    assert post.params["username"] == "Marta" and post.params["icon_url"] == "https://x.io/i.png"
    assert post.text == "Hello"


async def test_dm_reply_posts_in_the_direct_message(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    await slack.send(outbound(thread_key="dm:U0ANA", conversation_meta={"channel": "D0ANA"}))
    [post] = fake_slack.posts
    assert post.channel == "D0ANA" and post.thread_ts is None


async def test_rate_limited_reply_honours_retry_after_and_posts_once(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.post_failures.append((429, "7"))
    message = outbound(conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"})
    with pytest.raises(TransientSendError) as caught:
        await slack.send(message)
    assert caught.value.retry_after == 7.0
    assert fake_slack.posts == []
    await slack.send(message)  # the outbox's retry
    assert len(fake_slack.posts) == 1


async def test_a_reply_whose_answer_was_lost_is_not_posted_twice(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.post_then_fail = 1
    message = outbound(conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"})
    with pytest.raises(TransientSendError):
        await slack.send(message)
    result = await slack.send(message)
    assert len(fake_slack.posts) == 1
    assert result.external_id == f"C0SUPPORT:{fake_slack.posts[0].ts}"


async def test_a_dm_in_doubt_after_a_restart_is_looked_for_in_the_dm_not_posted_twice(
    slack: SlackChannel,
    fake_slack: FakeSlack,  # noqa: F811
) -> None:
    """A DM addressed by user id (a broadcast to a contact): chat.postMessage takes the user
    id, but the look must read the DM by its own id (conversations.* answer channel_not_found
    for a user id). The in-doubt flag is the outbox's, after a kill: nothing in memory."""
    message = outbound(thread_key="dm:U0ANA")
    await slack.send(message)
    [post] = fake_slack.posts
    assert post.channel == "D0ANA"
    again = await slack.send(replace(message, in_doubt=True))
    assert len(fake_slack.posts) == 1 and again.external_id == f"D0ANA:{post.ts}"
    other = await slack.send(replace(outbound("out-2"), thread_key="dm:U0ANA", in_doubt=True))  # in doubt, never posted: posted now
    assert len(fake_slack.posts) == 2 and other.external_id == f"D0ANA:{fake_slack.posts[1].ts}"


FILES = (
    OutboundAttachment("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice"),
    OutboundAttachment("screen.png", "image/png", b"\x89PNG shot"),
)


async def test_reply_files_are_uploaded_and_shared_in_the_thread_after_the_text(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    message = outbound(
        text="Both attached",
        attachments=FILES,
        conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"},
    )
    result = await slack.send(message)
    [post] = fake_slack.posts
    [share] = fake_slack.shares
    assert (post.channel, post.thread_ts, share.channel, share.thread_ts) == (
        "C0SUPPORT",
        "1.2",
        "C0SUPPORT",
        "1.2",
    )
    assert float(share.ts) > float(post.ts)
    assert [(f["name"], fake_slack.uploads[f["id"]]["data"]) for f in share.files] == [(a.filename, a.data) for a in FILES]
    assert result.external_id == f"C0SUPPORT:{post.ts}"


async def test_dm_reply_files_are_shared_in_the_direct_message(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    await slack.send(outbound(text="here", attachments=FILES[:1], thread_key="dm:U0ANA"))
    [post] = fake_slack.posts
    [share] = fake_slack.shares
    assert post.channel == share.channel == "D0ANA" and share.thread_ts is None


async def test_a_lost_share_answer_is_checked_in_the_thread_and_nothing_goes_twice(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.share_then_fail = 1
    message = outbound(attachments=FILES, conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"})
    with pytest.raises(TransientSendError):
        await slack.send(message)
    result = await slack.send(message)
    assert len(fake_slack.posts) == 1 and len(fake_slack.shares) == 1
    assert len(fake_slack.uploads) == 2  # not uploaded again either
    assert result.external_id == f"C0SUPPORT:{fake_slack.posts[0].ts}"


async def test_a_failed_upload_is_retried_without_posting_the_text_again(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.upload_url_errors = ["internal_error"]
    message = outbound(attachments=FILES[:1], conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"})
    with pytest.raises(TransientSendError):
        await slack.send(message)
    await slack.send(message)
    assert len(fake_slack.posts) == 1 and len(fake_slack.shares) == 1


async def test_files_slack_refuses_fail_the_reply_permanently_after_its_text(slack: SlackChannel, fake_slack: FakeSlack) -> None:  # noqa: F811
    fake_slack.upload_url_errors = ["missing_scope"]
    with pytest.raises(
        PermanentSendError,
        match="the text was posted, the files were not: files.getUploadURLExternal: missing_scope",
    ):
        await slack.send(
            outbound(
                attachments=FILES[:1],
                conversation_meta={"channel": "C0SUPPORT", "thread_ts": "1.2"},
            )
        )
    assert len(fake_slack.posts) == 1 and fake_slack.shares == []


async def test_reply_with_a_refused_token_fails_permanently(fake_slack: FakeSlack) -> None:  # noqa: F811
    bad = SlackChannel(make_config(fake_slack, bot_token="xoxb-revoked"), CONTEXT)
    with pytest.raises(PermanentSendError):
        await bad.send(outbound(conversation_meta={"channel": "C0SUPPORT"}))


# -- checks and config -------------------------------------------------------------------


async def test_check_reports_the_bot_and_team(fake_slack: FakeSlack) -> None:  # noqa: F811
    results = await SlackChannel(make_config(fake_slack, support_channels=["C0SUPPORT", "C0GONE"]), CONTEXT).check()
    assert [(r.what, r.ok) for r in results] == [
        ("auth.test", True),
        ("channel C0SUPPORT", True),
        ("channel C0GONE", False),
    ]
    assert "frontdesk" in results[0].detail and "Acme" in results[0].detail and "T0TEAM" in results[0].detail


async def test_check_reports_a_refused_token(fake_slack: FakeSlack) -> None:  # noqa: F811
    results = await SlackChannel(make_config(fake_slack, bot_token="xoxb-wrong"), CONTEXT).check()
    assert [(r.what, r.ok) for r in results] == [("auth.test", False)]
    assert "invalid_auth" in results[0].detail


def test_config_needs_the_secret_of_its_mode() -> None:
    with pytest.raises(ValidationError, match="signing_secret"):
        SlackConfig.model_validate({"name": "s", "bot_token": "xoxb-1"})
    with pytest.raises(ValidationError, match="app_token"):
        SlackConfig.model_validate({"name": "s", "bot_token": "xoxb-1", "mode": "socket"})
    config = SlackConfig.model_validate({"name": "s", "bot_token": "xoxb-1", "signing_secret": "x", "api_url": "http://gw/api"})
    assert config.api_url == "http://gw/api/"


# -- socket mode ---------------------------------------------------------------------------


async def test_socket_mode_stores_the_event_then_acks(fake_slack: FakeSlack, sink: MemorySink) -> None:  # noqa: F811
    config = make_config(fake_slack, mode="socket", app_token=APP_TOKEN, signing_secret=None)
    channel = SlackChannel(config, CONTEXT)
    await channel.start(sink)
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)
        body = event_callback(message_event("over the socket", ts="1700000001.000100"), event_id="Ev0SOCK")
        envelope = await fake_slack.push_event(body)
        await fake_slack.wait_ack(envelope)
        assert list(sink.messages) == ["C0SUPPORT:1700000001.000100"]
        redelivered = await fake_slack.push_event(body, retry_attempt=1)
        await fake_slack.wait_ack(redelivered)
        assert list(sink.messages) == ["C0SUPPORT:1700000001.000100"]
        # Socket mode takes no webhooks.
        assert (await channel.handle_webhook(signed_request(body))).status == 404
    finally:
        await channel.stop()


async def test_socket_mode_does_not_ack_what_it_could_not_store(fake_slack: FakeSlack, sink: MemorySink) -> None:  # noqa: F811
    config = make_config(fake_slack, mode="socket", app_token=APP_TOKEN, signing_secret=None)
    channel = SlackChannel(config, CONTEXT)
    await channel.start(sink)
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)
        sink.fail_next = 1
        failed = await fake_slack.push_event(event_callback(message_event("lost?", ts="1700000001.000100")))
        await wait_until(lambda: sink.ingest_calls == 1)
        ok = await fake_slack.push_event(event_callback(message_event("next", ts="1700000002.000100")))
        await fake_slack.wait_ack(ok)
        assert failed not in fake_slack.acks
        assert list(sink.messages) == ["C0SUPPORT:1700000002.000100"]
    finally:
        await channel.stop()


def test_event_payload_fixture_is_json() -> None:
    json.dumps(event_callback(message_event("x")))


# -- hostile text, stored for real ----------------------------------------------------------


async def test_an_event_with_lone_surrogates_is_stored_repaired_and_acked(fake_slack: FakeSlack, services: Services) -> None:  # noqa: F811
    # Answered 500 before (the database cannot encode "\udc80"), so Slack sent it again and again.
    ref = await add_channel(services, "slack", "slack")
    channel = SlackChannel(make_config(fake_slack), CONTEXT)
    await channel.start(ChannelSink(services.ingestor, ref))
    try:
        body = event_callback(message_event("broken \udc80 text \ud800", ts="1700000003.000100"))
        request = signed_request(body)
        assert b"\\udc80" in request.body  # as Slack would escape it
        response = await channel.handle_webhook(request)
        assert response.status == 200
    finally:
        await channel.stop()
    async with services.db.read() as session:
        [stored] = (await session.scalars(select(Message))).all()
    assert (stored.external_id, stored.text) == (
        "C0SUPPORT:1700000003.000100",
        "broken \ufffd text \ufffd",
    )
