"""The gateway's hub on its own: one reader per node however many sockets join at once,
and heartbeats to quiet sockets from one timer."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from widget import gateway
from widget.gateway import Hub, TranscriptItem


class Store:
    """Counts reads; `latest_seq` yields to the loop, as a database read does."""

    def __init__(self) -> None:
        self.reads = 0
        self.items: list[tuple[str, str, TranscriptItem]] = []
        self.newest = 0

    async def latest_seq(self) -> int:
        await asyncio.sleep(0.01)
        return self.newest

    async def since(self, after: int, limit: int = 500) -> tuple[int, list[tuple[str, str, TranscriptItem]]]:
        self.reads += 1
        await asyncio.sleep(0)
        return self.newest, [entry for entry in self.items if entry[2].seq > after]


class Bus:
    def __init__(self) -> None:
        self.latest = 0
        self.changed = asyncio.Condition()

    async def publish(self, seq: int) -> None:
        async with self.changed:
            self.latest = max(self.latest, seq)
            self.changed.notify_all()

    async def wait(self, after: int, timeout: float) -> int:
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: self.latest > after), timeout)
            except TimeoutError:
                pass
            return self.latest

    def on_signal(self, listener: Any) -> Any:
        return lambda: None


class Session:
    def __init__(self, key: str) -> None:
        self.config = SimpleNamespace(name="website")
        self.key = key
        self.after = 0
        self.active_at = time.monotonic()
        self.frames: list[dict[str, Any]] = []
        self.delivered: list[int] = []

    async def send(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)
        self.active_at = time.monotonic()

    async def deliver(self, item: TranscriptItem) -> None:
        self.after = max(self.after, item.seq)
        self.delivered.append(item.message_id)


def item(seq: int, message_id: int) -> TranscriptItem:
    return TranscriptItem(
        seq=seq, message_id=message_id, direction="out", text="hi", author="Ann", created_at="2026-11-30T00:00:00+00:00", client_id=None
    )


async def test_sockets_joining_together_start_one_reader() -> None:
    store, bus = Store(), Bus()
    hub = Hub(store, bus)  # type: ignore[arg-type]
    sessions = [Session(f"v:{n}") for n in range(50)]
    await asyncio.gather(*(hub.join(s) for s in sessions))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    readers = [t for t in asyncio.all_tasks() if t.get_name() == "widget-hub"]
    assert len(readers) == 1

    store.reads = 0
    store.items.append(("website", "v:7", item(1, 101)))
    store.newest = 1
    await bus.publish(1)
    for _ in range(100):
        if sessions[7].delivered:
            break
        await asyncio.sleep(0.01)
    assert sessions[7].delivered == [101]
    assert all(not s.delivered for s in sessions if s is not sessions[7])
    assert store.reads == 1  # one read for the one commit, not one per socket or per reader
    await hub.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() in ("widget-hub", "widget-heartbeats") and not t.done()]


async def test_quiet_sockets_get_a_heartbeat_with_their_seq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway, "HEARTBEAT_SECONDS", 0.25)
    hub = Hub(Store(), Bus())  # type: ignore[arg-type]
    quiet, busy = Session("v:quiet"), Session("v:busy")
    quiet.after = 42
    await hub.join(quiet)  # type: ignore[arg-type]
    await hub.join(busy)  # type: ignore[arg-type]
    for _ in range(10):  # the busy socket keeps talking
        busy.active_at = time.monotonic()
        await asyncio.sleep(0.1)
    assert {"type": "heartbeat", "seq": 42} in quiet.frames
    assert not busy.frames
    await hub.stop()


async def test_with_nobody_connected_commits_are_not_read_and_a_visitor_joining_later_gets_what_follows() -> None:
    store, bus = Store(), Bus()
    hub = Hub(store, bus)  # type: ignore[arg-type]
    first = Session("v:1")
    await hub.join(first)  # type: ignore[arg-type]
    for _ in range(100):
        if store.reads:
            break
        await asyncio.sleep(0.01)
    hub.leave(first)  # type: ignore[arg-type]
    await bus.publish(1)  # the hub reads once more, then sees nobody is connected
    for _ in range(100):
        if store.reads >= 2:
            break
        await asyncio.sleep(0.01)
    reads = store.reads

    for seq in range(2, 12):  # ten commits while nobody is connected: no read
        store.newest = seq
        await bus.publish(seq)
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert store.reads == reads

    later = Session("v:2")  # it catches up from the store itself (VisitorSession._push_new)
    await hub.join(later)  # type: ignore[arg-type]
    store.items.append(("website", "v:2", item(12, 112)))
    store.newest = 12
    await bus.publish(12)
    for _ in range(100):
        if later.delivered:
            break
        await asyncio.sleep(0.01)
    assert later.delivered == [112]
    await hub.stop()
