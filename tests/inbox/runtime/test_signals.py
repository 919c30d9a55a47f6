"""Signals on the bus (typing, presence): across two nodes over Redis, never stored."""

from __future__ import annotations

import asyncio
from typing import Any

from inbox.events import Bus, RedisBus
from inbox.runtime.presence import PresenceBoard
from tests.fixtures.services import port_open, require


async def test_in_process_signals_reach_listeners_until_they_unsubscribe() -> None:
    bus = Bus()
    got: list[dict[str, Any]] = []
    unsubscribe = bus.on_signal(got.append)
    await bus.signal({"kind": "typing", "conversation_id": 1})
    unsubscribe()
    await bus.signal({"kind": "typing", "conversation_id": 2})
    assert got == [{"kind": "typing", "conversation_id": 1}]


async def test_presence_on_one_node_is_seen_on_another_over_redis() -> None:
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    node_a, node_b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    await node_a.start()
    await node_b.start()
    board_a, board_b = PresenceBoard(), PresenceBoard()
    board_a.follow(node_a.on_signal)
    board_b.follow(node_b.on_signal)
    seen_on_a: list[dict[str, Any]] = []
    node_a.on_signal(seen_on_a.append)
    try:
        await asyncio.sleep(0.3)  # both subscribed
        await node_a.signal({"kind": "presence", "conversation_id": 7, "agent_id": 1, "author": "Ana", "state": "typing"})
        for _ in range(100):
            if board_b.others(7, agent_id=2):
                break
            await asyncio.sleep(0.05)
        assert [(p.name, p.typing) for p in board_b.others(7, agent_id=2)] == [("Ana", True)]
        assert len(seen_on_a) == 1  # delivered once on its own node, not echoed back from Redis
        await node_a.signal({"kind": "presence", "conversation_id": 7, "agent_id": 1, "author": "Ana", "state": "gone"})
        for _ in range(100):
            if not board_b.others(7, agent_id=2):
                break
            await asyncio.sleep(0.05)
        assert board_b.others(7, agent_id=2) == []
    finally:
        await node_a.stop()
        await node_b.stop()
