"""The event bus and live stream: in-process, over Redis, and replay by seq."""

from __future__ import annotations

import asyncio
import json
import uuid

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from inbox.events import Bus, RedisBus
from tests.fixtures.daemon import Daemon, daemon
from tests.fixtures.services import port_open, require
from tests.inbox.runtime.test_daemon import drop_messages, spool_channel


async def test_in_process_bus_wakes_waiters_and_times_out() -> None:
    bus = Bus()
    waiter = asyncio.create_task(bus.wait(0, 5.0))
    await asyncio.sleep(0)
    await bus.publish(3)
    assert await waiter == 3
    assert await bus.wait(3, 0.01) == 3  # nothing newer: returns at the timeout


async def test_redis_bus_wakes_another_node() -> None:
    require(port_open("127.0.0.1", 6379), "Redis not reachable on 127.0.0.1:6379")
    channel = f"frontdesk:test:{uuid.uuid4().hex}"
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    a.CHANNEL = b.CHANNEL = channel  # type: ignore[misc]
    await a.start()
    await b.start()
    try:
        for _ in range(100):  # the subscription is live once a publish gets through
            await a.publish(1)
            if await b.wait(0, 0.05) >= 1:
                break
        await a.publish(42)
        assert await b.wait(1, 5.0) == 42
    finally:
        await a.stop()
        await b.stop()


async def test_stream_replays_missed_events_after_reconnect(daemon: Daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    daemon.start()
    url = daemon.url.replace("http", "ws") + "/api/v1/stream"
    drop_messages(tmp_path / "in", 1, prefix="first")
    async with websockets.connect(f"{url}?token={token}&after=0") as ws:
        seen = [json.loads(await asyncio.wait_for(ws.recv(), 30)) for _ in range(2)]
    assert [e["type"] for e in seen] == ["conversation.created", "message.created"]
    last = seen[-1]["seq"]
    drop_messages(tmp_path / "in", 1, prefix="missed")  # while disconnected; same thread
    async with websockets.connect(f"{url}?token={token}&after={last}") as ws:
        replay = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert replay["type"] == "message.created" and replay["seq"] > last
    assert replay["conversation_id"] == seen[-1]["conversation_id"]


async def test_stream_refuses_a_bad_token(daemon: Daemon) -> None:
    daemon.start()
    url = daemon.url.replace("http", "ws") + "/api/v1/stream?token=fd_wrong"
    try:
        async with websockets.connect(url) as ws:
            await asyncio.wait_for(ws.recv(), 10)
        raise AssertionError("the stream should not open")
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
