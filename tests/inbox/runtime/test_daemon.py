"""The real daemon process: first start, SIGKILL mid-ingest and mid-send, restarts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401


def spool_channel(tmp_path: Path) -> dict[str, object]:
    return {
        "name": "drop",
        "type": "spool",
        "inbox_dir": str(tmp_path / "in"),
        "outbox_dir": str(tmp_path / "out"),
        "poll_interval": 0.05,
        "batch_size": 25,
    }


def drop_messages(directory: Path, count: int, prefix: str = "msg") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        doc = {"id": f"{prefix}-{i}", "from": f"user{i}@example.com", "text": f"message {i}", "thread": f"t{i}"}
        tmp = directory / f".{prefix}-{i:05d}.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.rename(directory / f"{prefix}-{i:05d}.json")


def message_events(node: Daemon, token: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    after = 0
    while True:
        page = httpx.get(
            f"{node.url}/api/v1/events", params={"after": after, "limit": 1000}, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        items += page["items"]
        if not page["items"]:
            return [e for e in items if e["type"] == "message.created"]
        after = page["items"][-1]["seq"]


@pytest.mark.end_to_end
def test_first_start_prints_a_one_time_login_link_once(daemon: Daemon) -> None:
    daemon.start()
    match = re.search(r"(http://\S+/login/once/\S+)", wait_until(lambda: daemon.output(), what="daemon output"))
    assert match, daemon.output()
    link = match.group(1)
    with httpx.Client() as browser:
        first = browser.get(link)
        assert first.status_code == 303 and first.headers["location"] == "/account/password"
        assert "fd_session" in first.cookies
        assert browser.get(link, follow_redirects=False).status_code == 404  # single use
    daemon.stop()
    daemon.start()
    assert "/login/once/" not in daemon.output()


def test_sigkill_mid_ingest_loses_and_duplicates_nothing(daemon: Daemon, tmp_path: Path) -> None:
    # Enough messages that the kill, at the first sign of progress, lands mid-ingest however
    # fast the ingest has become (1,500 were once all stored between two polls).
    total = 4000
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    drop_messages(tmp_path / "in", total)
    daemon.start(wait=False)
    remaining = lambda: len(list((tmp_path / "in").glob("*.json")))  # noqa: E731
    wait_until(lambda: remaining() < total, interval=0.01, what="ingest to start")
    daemon.kill()
    left_at_kill = remaining()
    assert 0 < left_at_kill < total, "the kill should land mid-ingest"
    daemon.start()
    wait_until(lambda: remaining() == 0, what="the spool to drain")
    events = message_events(daemon, token)
    ids = [e["payload"]["message_id"] for e in events]
    assert len(ids) == total and len(set(ids)) == total
    conversations = 0
    cursor = None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{daemon.url}/api/v1/conversations", params=params, headers={"Authorization": f"Bearer {token}"}).json()
        conversations += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert conversations == total


def test_sigkill_mid_send_delivers_every_reply_exactly_once(daemon: Daemon, tmp_path: Path) -> None:
    count = 40
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    drop_messages(tmp_path / "in", count)
    daemon.start()
    wait_until(lambda: len(message_events(daemon, token)) == count, what="inbound messages")
    conversation_ids = [e["conversation_id"] for e in message_events(daemon, token)]
    replies = []
    with httpx.Client(base_url=daemon.url, headers=headers) as client:
        for i, cid in enumerate(conversation_ids):
            response = client.post(f"/api/v1/conversations/{cid}/messages", json={"text": f"reply {i}"})
            assert response.status_code == 201 and response.json()["delivery"] == "queued"
            replies.append((cid, response.json()["id"]))
    daemon.kill()
    daemon.start()
    outbox = tmp_path / "out"

    def deliveries() -> dict[int, str]:
        states = {}
        with httpx.Client(base_url=daemon.url, headers=headers) as client:
            for cid, mid in replies:
                messages = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
                states[mid] = next(m["delivery"] for m in messages if m["id"] == mid)
        return states

    wait_until(lambda: set(deliveries().values()) == {"sent"}, what="every reply sent")
    files = sorted(outbox.glob("*.json"))
    texts = sorted(json.loads(f.read_text())["text"] for f in files)
    assert texts == sorted(f"reply {i}" for i in range(count))  # one file per reply: none lost, none doubled
