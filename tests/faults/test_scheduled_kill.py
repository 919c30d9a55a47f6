"""SIGKILL around a scheduled reply's time: it goes out once, at its time, never early.

The daemon is killed twice: while the reply is still waiting (so its time passes with no
node running), and again right after it went out. Each time a fresh start carries on from
what the store says: the scheduled reply is sent after its time, exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.inbox.runtime.test_daemon import drop_messages, spool_channel


def replies(outbox: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(outbox.glob("*.json"))]


def test_a_scheduled_reply_survives_sigkill_before_and_after_its_time_and_goes_once(daemon: Daemon, tmp_path: Path) -> None:
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    outbox = tmp_path / "out"
    daemon.start()
    drop_messages(tmp_path / "in", 1)
    conversation = wait_until(
        lambda: next(iter(httpx.get(f"{daemon.url}/api/v1/conversations", headers=headers, timeout=30).json()["items"]), None),
        what="the customer's message",
    )
    send_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    posted = httpx.post(
        f"{daemon.url}/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "Your refund is on its way.", "send_at": send_at.isoformat()},
        headers=headers,
        timeout=30,
    )
    assert posted.status_code == 201 and posted.json()["delivery"] == "scheduled", posted.text
    message_id = posted.json()["id"]

    # Killed while the reply waits; its time passes with no node running.
    daemon.kill()
    assert replies(outbox) == []
    wait_until(lambda: dt.datetime.now(dt.UTC) > send_at + dt.timedelta(seconds=1), timeout=30, what="the scheduled time to pass")
    daemon.start()
    [sent] = wait_until(lambda: replies(outbox), timeout=60, what="the scheduled reply to go out")
    assert sent["text"] == "Your refund is on its way."
    written = dt.datetime.fromtimestamp(next(outbox.glob("*.json")).stat().st_mtime, dt.UTC)
    assert written >= send_at, "sent before its time"

    # Killed again right after it went out: a fresh start sends nothing more.
    daemon.kill()
    daemon.start()

    def delivery() -> str:
        items = httpx.get(f"{daemon.url}/api/v1/conversations/{conversation['id']}/messages", headers=headers, timeout=30).json()["items"]
        return str(next(m["delivery"] for m in items if m["id"] == message_id))

    assert wait_until(lambda: delivery() == "sent", what="the reply recorded as sent")
    # A send the kill interrupted before it was recorded is sent again under the same
    # idempotency key (the channel recognises it): the customer still has one reply.
    assert [r["id"] for r in replies(outbox)] == [sent["id"]]
