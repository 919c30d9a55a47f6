"""Telegram through the real daemon (`frontdesk serve`) and the fake Bot API server.

Each test runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.fixtures.daemon import ROOT, Daemon, daemon, wait_until  # noqa: F401
from tests.fixtures.fake_telegram import (
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    fake_telegram,  # noqa: F401
    group,
    mention_entities,
    message,
    user,
)

SECRET = "daemon-webhook-secret_1"


def telegram_channel(fake: FakeTelegram, **overrides: Any) -> dict[str, object]:
    channel: dict[str, object] = {"name": "tg", "type": "telegram", "token": TOKEN, "api_base_url": fake.api_base_url, "poll_timeout": 2}
    channel.update(overrides)
    return channel


# How often a test asks for every inbound text: each asking is a request per conversation
# and more, and every 50 ms an agent's token would pass its 1,200 requests a minute (429).
POLL = 0.5


class Client:
    """The REST API as an agent's script uses it."""

    def __init__(self, node: Daemon, token: str) -> None:
        self.http = httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def conversations(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            response = self.http.get("/api/v1/conversations", params=params)
            response.raise_for_status()
            page = response.json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        return self.http.get(f"/api/v1/conversations/{conversation_id}/messages").json()["items"]

    def inbound_texts(self) -> list[str]:
        return [m["text"] for c in self.conversations() for m in self.messages(c["id"]) if m["direction"] == "in"]

    def reply(self, conversation_id: int, text: str) -> dict[str, Any]:
        response = self.http.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text})
        assert response.status_code == 201, response.text
        return response.json()

    def message(self, conversation_id: int, message_id: int) -> dict[str, Any]:
        return next(m for m in self.messages(conversation_id) if m["id"] == message_id)


def started(node: Daemon, fake: FakeTelegram, **overrides: Any) -> Client:
    node.channels = [telegram_channel(fake, **overrides)]
    client = Client(node, node.admin_token())
    node.start()
    return client


@pytest.mark.end_to_end
def test_a_private_message_opens_a_conversation_and_the_reply_reaches_the_user(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    fake_telegram.add_update({"message": message(user(701, "Ana", username="ana"), "Hola, ¿me ayudan?", message_id=5)})

    [conversation] = wait_until(api.conversations, what="the conversation")
    assert conversation["channel_type"] == "telegram" and conversation["contact"]["name"] == "Ana"
    reply = api.reply(conversation["id"], "Claro <Ana> & co")
    wait_until(lambda: api.message(conversation["id"], reply["id"])["delivery"] == "sent", what="delivery")
    [sent] = fake_telegram.sent_to(701)
    assert sent.visible == "Claro <Ana> & co"


def test_sigkill_during_polling_loses_no_update_and_duplicates_none(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    daemon.channels = [telegram_channel(fake_telegram)]
    api = Client(daemon, daemon.admin_token())
    # Many small, slowish batches, so each kill lands between two of them.
    fake_telegram.max_batch = 3
    fake_telegram.latency = 0.05
    expected: list[str] = []
    unconfirmed_at_kill: list[int] = []
    for round_ in range(3):
        for i in range(40):
            text = f"round {round_} message {i}"
            fake_telegram.add_update({"message": message(user(800 + i % 7), text)})
            expected.append(text)
        waiting = len(fake_telegram.pending_update_ids())
        daemon.start(wait=False)
        # Kill once Telegram has heard of some commits (more each round) but not all.
        confirmed = 3 * (1 + 4 * round_)
        wait_until(lambda: 0 < len(fake_telegram.pending_update_ids()) <= waiting - confirmed, interval=0.002, what="progress")  # noqa: B023
        daemon.kill()
        unconfirmed_at_kill.append(len(fake_telegram.pending_update_ids()))
    daemon.start()
    wait_until(lambda: len(api.inbound_texts()) >= len(expected), what="every message", interval=POLL)
    texts = api.inbound_texts()
    assert sorted(texts) == sorted(expected)  # nothing lost, nothing twice
    print(f"updates Telegram still held at each kill: {unconfirmed_at_kill}")
    assert all(unconfirmed_at_kill), unconfirmed_at_kill
    wait_until(lambda: fake_telegram.pending_update_ids() == [], what="every update confirmed")


@pytest.mark.end_to_end
def test_a_group_mention_opens_a_group_conversation_and_the_reply_threads_to_it(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    chat = group(-100555, "Acme")
    fake_telegram.add_update({"message": message(user(702, "Luis"), "chatter", chat=chat, message_id=1)})
    text = f"@{BOT_USERNAME} the export is broken"
    fake_telegram.add_update({"message": message(user(703, "Eva"), text, chat=chat, message_id=2, entities=mention_entities(text))})
    fake_telegram.add_update(
        {
            "message": message(
                user(702, "Luis"),
                f"@{BOT_USERNAME} same here",
                chat=chat,
                message_id=3,
                entities=mention_entities(f"@{BOT_USERNAME} same here"),
            )
        }
    )

    wait_until(lambda: len(api.inbound_texts()) == 2, what="both mentions", interval=POLL)
    [conversation] = api.conversations()
    reply = api.reply(conversation["id"], "Looking into it")
    wait_until(lambda: api.message(conversation["id"], reply["id"])["delivery"] == "sent", what="delivery")
    [sent] = fake_telegram.sent_to(-100555)
    assert sent.reply_to == 3  # the latest customer message in the group


@pytest.mark.end_to_end
def test_an_edit_updates_the_stored_text_and_keeps_the_original(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    original = message(user(704), "order 1234", message_id=9)
    fake_telegram.add_update({"message": original})
    [conversation] = wait_until(api.conversations, what="the conversation")
    fake_telegram.add_update({"edited_message": {**original, "text": "order 4321", "edit_date": original["date"] + 5}})
    wait_until(lambda: api.messages(conversation["id"])[0]["text"] == "order 4321", what="the edit")
    [stored] = api.messages(conversation["id"])
    assert stored["original_text"] == "order 1234" and stored["edited_at"]


@pytest.mark.end_to_end
def test_a_photo_is_stored_as_an_attachment(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    file_id, unique = fake_telegram.add_file(b"\xff\xd8jpeg-bytes", "photos/file_9.jpg")
    photo = [{"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 600, "file_size": 12}]
    fake_telegram.add_update({"message": message(user(705), photo=photo, caption="screen")})
    [conversation] = wait_until(api.conversations, what="the conversation")
    [stored] = api.messages(conversation["id"])
    assert stored["text"] == "screen"
    assert [(a["filename"], a["content_type"], a["size"]) for a in stored["attachments"]] == [(f"photo_{unique}.jpg", "image/jpeg", 12)]


@pytest.mark.end_to_end
def test_a_429_delays_the_reply_which_is_then_sent_exactly_once(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    fake_telegram.add_update({"message": message(user(706), "hello")})
    [conversation] = wait_until(api.conversations, what="the conversation")
    fake_telegram.rate_limit(706, retry_after=1, times=2)
    reply = api.reply(conversation["id"], "answer")
    wait_until(lambda: api.message(conversation["id"], reply["id"])["delivery"] == "sent", what="delivery")
    assert [s.visible for s in fake_telegram.sent_to(706)] == ["answer"]
    assert [code for method, code, _ in fake_telegram.refused if method == "sendMessage"] == [429, 429]


def test_stalled_and_dropped_bot_api_calls_lose_nothing_and_double_nothing(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    """The Bot API stalls past the client's timeout and answers 502, on polling and on
    sending: every update is stored once and every reply sent once."""
    api = started(daemon, fake_telegram, request_timeout=1.0, poll_timeout=1)
    fake_telegram.add_update({"message": message(user(710), "first")})
    [conversation] = wait_until(api.conversations, what="the conversation")
    fake_telegram.network_faults["getUpdates"] = [("stall", 3.0), ("502", 0), ("stall", 3.0)]
    expected = ["first"]
    for i in range(12):
        fake_telegram.add_update({"message": message(user(710 + i % 3), f"during faults {i}")})
        expected.append(f"during faults {i}")
    fake_telegram.network_faults["sendMessage"] = [("stall", 3.0), ("502", 0)]
    reply = api.reply(conversation["id"], "answer despite faults")
    wait_until(lambda: api.message(conversation["id"], reply["id"])["delivery"] == "sent", what="delivery")
    wait_until(lambda: len(api.inbound_texts()) >= len(expected), what="every update", interval=POLL)
    wait_until(lambda: fake_telegram.pending_update_ids() == [], what="every update confirmed")
    assert sorted(api.inbound_texts()) == sorted(expected)  # lost: 0, duplicated: 0
    assert [s.visible for s in fake_telegram.sent_to(710)] == ["answer despite faults"]  # sent once
    assert fake_telegram.network_faults == {"getUpdates": [], "sendMessage": []}  # every fault was hit


@pytest.mark.end_to_end
def test_a_reply_to_a_user_who_blocked_the_bot_shows_failed_with_the_reason(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram)
    fake_telegram.add_update({"message": message(user(707), "bye")})
    [conversation] = wait_until(api.conversations, what="the conversation")
    fake_telegram.block(707)
    reply = api.reply(conversation["id"], "are you there?")
    stored = wait_until(lambda: (m := api.message(conversation["id"], reply["id"]))["delivery"] == "failed" and m, what="failure")
    assert "bot was blocked by the user" in stored["delivery_error"]
    assert fake_telegram.sent_to(707) == []


@pytest.mark.end_to_end
def test_webhook_mode_registers_and_stores_only_updates_with_the_right_secret(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram, mode="webhook", webhook_secret=SECRET)
    wait_until(lambda: fake_telegram.webhook_url, what="setWebhook")
    assert fake_telegram.webhook_url == f"{daemon.url}/hooks/telegram/tg"
    update = {"update_id": 77, "message": message(user(708), "via webhook", message_id=4)}

    assert fake_telegram.deliver(update, secret=None).status_code == 403
    assert fake_telegram.deliver(update, secret="wrong").status_code == 403
    assert api.conversations() == []

    assert fake_telegram.deliver(update).status_code == 200
    assert fake_telegram.deliver(update).status_code == 200  # Telegram redelivers: stored once
    assert api.inbound_texts() == ["via webhook"]


@pytest.mark.end_to_end
def test_channels_test_calls_get_me_and_reports_the_bot(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    daemon.channels = [telegram_channel(fake_telegram)]
    daemon.prepare()
    result = daemon.cli("channels", "test", "tg")
    assert f"getMe: @{BOT_USERNAME}" in result.stdout, result.stdout
    daemon.channels = [telegram_channel(fake_telegram, token="1:wrong")]
    daemon.write_config()
    failed = daemon.cli("channels", "test", "tg", check=False)
    assert failed.returncode == 1 and "FAIL getMe" in failed.stdout


@pytest.mark.end_to_end
def test_config_check_rejects_webhook_mode_without_a_secret(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    daemon.channels = [telegram_channel(fake_telegram, mode="webhook")]
    daemon.write_config()
    result = subprocess.run(
        [sys.executable, "-m", "inbox.cli", "config", "check", str(daemon.config_path)],
        cwd=ROOT,
        env=daemon._env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "channels[0]" in result.stderr and "webhook_secret" in result.stderr, result.stderr


@pytest.mark.end_to_end
def test_a_web_only_node_stores_webhook_updates(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    daemon.role = "web"  # no receivers here: setWebhook is a worker's job
    api = started(daemon, fake_telegram, mode="webhook", webhook_secret=SECRET)
    update = {"update_id": 91, "message": message(user(709), "to a web node", message_id=5)}
    response = httpx.post(f"{daemon.url}/hooks/telegram/tg", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200, response.text
    assert api.inbound_texts() == ["to a web node"]


@pytest.mark.end_to_end
def test_signed_webhook_bodies_that_cannot_be_read_are_quarantined_never_500(daemon: Daemon, fake_telegram: FakeTelegram) -> None:
    api = started(daemon, fake_telegram, mode="webhook", webhook_secret=SECRET)
    wait_until(lambda: fake_telegram.webhook_url, what="setWebhook")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}
    bad_bodies = [
        b"{oops",
        b'{"update_id": 78, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"update_id": 79, "message": 5}',
        json.dumps({"update_id": 80, "message": {**message(user(710), "x", message_id=1), "text": {}}}).encode(),
    ]
    for body in bad_bodies:
        response = httpx.post(fake_telegram.webhook_url, content=body, headers=headers, timeout=30)
        assert (response.status_code, response.json()) == (200, {"ok": True, "quarantined": True}), body[:60]
    lone = {"update_id": 81, "message": message(user(711, "\ud800"), "hola \udc80", message_id=2)}
    assert fake_telegram.deliver(lone).status_code == 200  # sent as Telegram would: "\ud800" escapes
    assert api.inbound_texts() == ["hola \ufffd"]
    held = [json.loads(line) for line in daemon.cli("quarantine", "list", "--json").stdout.splitlines()]
    assert len(held) == len(bad_bodies) and all(item["channel"] == "tg" and item["error"] for item in held)
