"""The Slack channel through the real daemon: signed events over HTTP, replies via the API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.daemon import Daemon
from tests.fixtures.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    event_callback,
    fake_slack,  # noqa: F401
    message_event,
    sign,
)

pytestmark = pytest.mark.end_to_end


@dataclass
class SlackDaemon:
    node: Daemon
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.node.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)


@pytest.fixture
async def daemon(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> AsyncIterator[SlackDaemon]:  # noqa: F811
    channel = {
        "name": "slack",
        "type": "slack",
        "bot_token": "env:SLACK_BOT_TOKEN",
        "signing_secret": "env:SLACK_SIGNING_SECRET",
        "api_url": fake_slack.api_url,
        "support_channels": ["C0SUPPORT"],
    }
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    node = Daemon(workdir=tmp_path, db_url=db_url, channels=[channel], env=env)
    # In threads: the fake Slack in this event loop must answer the daemon while it starts.
    token = await asyncio.to_thread(node.admin_token)
    await asyncio.to_thread(node.start)
    yield SlackDaemon(node, token)
    await asyncio.to_thread(node.stop)


async def post_event(
    client: httpx.AsyncClient, payload: dict[str, Any], *, secret: str = SIGNING_SECRET, age: int = 0, retry: int | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = sign(body, secret=secret, timestamp=int(time.time()) - age)
    if retry is not None:
        headers["x-slack-retry-num"] = str(retry)
    return await client.post("/hooks/slack/slack", content=body, headers=headers)


async def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def conversations(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/conversations")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_forged_and_stale_signatures_are_refused_by_the_daemon_and_nothing_stored(daemon: SlackDaemon) -> None:
    async with daemon.client() as client:
        payload = event_callback(message_event("forged", ts="1700000001.000100"))
        assert (await post_event(client, payload, secret="not-the-secret")).status_code == 401
        assert (await post_event(client, payload, age=6 * 60)).status_code == 401
        unsigned = await client.post("/hooks/slack/slack", content=json.dumps(payload).encode())
        assert unsigned.status_code == 401
        assert await conversations(client) == []


async def test_hook_answers_wrong_method_unknown_channel_and_oversized_body_in_json(daemon: SlackDaemon) -> None:
    async with daemon.client() as client:
        wrong_method = await client.get("/hooks/slack/slack")
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]["message"] == "webhooks take POST"
        unknown = await client.post("/hooks/slack/nope", content=b"{}")
        assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
        wrong_type = await client.post("/hooks/telegram/slack", content=b"{}")
        assert wrong_type.status_code == 404
        big = await client.post("/hooks/slack/slack", content=b"x" * (2 * 1024 * 1024))
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
        assert await conversations(client) == []


async def test_url_verification_through_the_daemon(daemon: SlackDaemon) -> None:
    async with daemon.client() as client:
        response = await post_event(client, {"type": "url_verification", "challenge": "abc123", "token": "t"})
        assert response.status_code == 200
        assert "abc123" in response.text


async def test_thread_becomes_a_conversation_and_the_reply_posts_in_the_thread(daemon: SlackDaemon, fake_slack: FakeSlack) -> None:  # noqa: F811
    async with daemon.client() as client:
        root = event_callback(message_event("VPN is down for me", ts="1700000001.000100"))
        assert (await post_event(client, root)).status_code == 200
        # Slack retries the same event: stored once.
        assert (await post_event(client, root, retry=1)).status_code == 200
        reply = event_callback(message_event("since 9am", ts="1700000002.000100", thread_ts="1700000001.000100"))
        assert (await post_event(client, reply)).status_code == 200

        [conversation] = await conversations(client)
        messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages")).json()["items"]
        assert [m["text"] for m in messages] == ["VPN is down for me", "since 9am"]
        contact = (await client.get(f"/api/v1/contacts/{conversation['contact']['id']}")).json()
        assert (contact["name"], contact["email"]) == ("Ana García", "ana@example.com")
        assert [(i["channel"], i["address"]) for i in contact["identities"]] == [("slack", "U0ANA")]

        sent = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "We are on it, **restarting** now"})
        assert sent.status_code == 201, sent.text
        await eventually(lambda: fake_slack.posts)
        [post] = fake_slack.posts
        assert post.channel == "C0SUPPORT" and post.thread_ts == "1700000001.000100"
        assert post.text.endswith("We are on it, *restarting* now")


async def test_a_reply_with_a_file_reaches_the_thread_through_the_outbox(daemon: SlackDaemon, fake_slack: FakeSlack) -> None:  # noqa: F811
    async with daemon.client() as client:
        root = event_callback(message_event("Can I get the invoice?", ts="1700000001.000100"))
        assert (await post_event(client, root)).status_code == 200
        [conversation] = await conversations(client)
        sent = await client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            data={"text": "Attached"},
            files=[("file", ("invoice-42.pdf", b"%PDF-1.4 invoice 42", "application/pdf"))],
        )
        assert sent.status_code == 201, sent.text
        await eventually(lambda: fake_slack.shares)
        [post] = fake_slack.posts
        [share] = fake_slack.shares
        assert (share.channel, share.thread_ts) == (post.channel, post.thread_ts) == ("C0SUPPORT", "1700000001.000100")
        [file] = share.files
        assert (file["name"], fake_slack.uploads[file["id"]]["data"]) == ("invoice-42.pdf", b"%PDF-1.4 invoice 42")

        async def delivered() -> dict[str, Any] | None:
            last = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages")).json()["items"][-1]
            return last if last["delivery"] == "sent" else None

        reply = await eventually(delivered)
        assert reply["attachments"][0]["filename"] == "invoice-42.pdf"


async def test_rate_limited_reply_is_retried_after_retry_after_and_posted_once(daemon: SlackDaemon, fake_slack: FakeSlack) -> None:  # noqa: F811
    async with daemon.client() as client:
        assert (
            await post_event(client, event_callback(message_event("hello?", channel="D0ANA", ts="1700000001.000100")))
        ).status_code == 200
        [conversation] = await conversations(client)
        fake_slack.post_failures.append((429, "1"))
        sent = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Hi Ana"})
        assert sent.status_code == 201
        message_id = sent.json()["id"]

        async def delivered() -> bool:
            items = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages")).json()["items"]
            return any(m["id"] == message_id and m["delivery"] == "sent" for m in items)

        await eventually(delivered)
        assert fake_slack.count("chat.postMessage") == 2
        [post] = fake_slack.posts
        assert post.channel == "D0ANA" and post.thread_ts is None and post.text.endswith("Hi Ana")


async def test_channels_test_command_reports_the_bot_and_team(fake_slack: FakeSlack, tmp_path: Path) -> None:  # noqa: F811
    channel = {
        "name": "slack",
        "type": "slack",
        "bot_token": "env:SLACK_BOT_TOKEN",
        "signing_secret": "env:SLACK_SIGNING_SECRET",
        "api_url": fake_slack.api_url,
        "support_channels": ["C0SUPPORT", "C0NOTHERE"],
    }
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    node = Daemon(workdir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db", channels=[channel], env=env)
    node.write_config()
    result = await asyncio.to_thread(node.cli, "channels", "test", "slack", check=False)
    lines = result.stdout.splitlines()
    assert lines[0] == "ok   auth.test: bot @frontdesk (U0BOT) in team Acme (T0TEAM)"
    assert lines[1].startswith("ok   channel C0SUPPORT: #support")
    assert lines[2].startswith("FAIL channel C0NOTHERE")
    assert result.returncode == 1


async def test_a_web_only_node_stores_slack_events(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    channel = {
        "name": "slack",
        "type": "slack",
        "bot_token": "env:SLACK_BOT_TOKEN",
        "signing_secret": "env:SLACK_SIGNING_SECRET",
        "api_url": fake_slack.api_url,
        "support_channels": ["C0SUPPORT"],
    }
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    node = Daemon(workdir=tmp_path, db_url=db_url, channels=[channel], env=env, role="web")
    token = await asyncio.to_thread(node.admin_token)
    await asyncio.to_thread(node.start)
    try:
        web = SlackDaemon(node, token)
        async with web.client() as client:
            response = await post_event(client, event_callback(message_event("Printer on fire")))
            assert response.status_code == 200, response.text
            [conversation] = await eventually(lambda: conversations(client))
            assert conversation["channel"] == "slack"
    finally:
        await asyncio.to_thread(node.stop)
