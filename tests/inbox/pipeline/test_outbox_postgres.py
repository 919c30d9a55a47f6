"""Two outbox workers on one PostgreSQL database never send the same item twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from inbox.actions.replies import send_reply
from inbox.actions.runner import CLI
from inbox.config import OutboxConfig
from inbox.pipeline.outbox import OutboxWorker
from inbox.runtime.services import Services
from inbox.store.models import Conversation, OutboxItem
from tests.fixtures.inbox import add_channel, inbound, make_config
from tests.fixtures.recording_channel import RecordingChannel


@pytest.fixture
async def pg_services(pg_db_url: str) -> AsyncIterator[list[Services]]:
    # Two nodes: separate engines and pools, one database.
    nodes = [Services.build(make_config(pg_db_url)) for _ in range(2)]
    yield nodes
    for node in nodes:
        await node.db.dispose()


async def test_two_workers_claim_each_item_exactly_once(pg_services: list[Services]) -> None:
    a, b = pg_services
    channel = await add_channel(a)
    results = await a.ingestor.ingest(channel, [inbound(f"in-{i}", sender=f"c{i}@example.com") for i in range(60)])
    for r in results:
        for n in range(3):
            await send_reply(a.ctx, CLI, r.conversation_id, f"reply {n}")
    far_end = RecordingChannel(delay=0.002)
    config = OutboxConfig(concurrency=8, lease_seconds=60)
    workers = [OutboxWorker(node.db, node.bus, lambda cid: far_end, config) for node in (a, b)]

    async def run(worker: OutboxWorker) -> int:
        claimed = 0
        while True:
            batch = await worker.claim(8)
            if not batch:
                return claimed
            claimed += len(batch)
            await asyncio.gather(*(worker.process(c) for c in batch))

    counts = await asyncio.gather(*(run(w) for w in workers))
    assert sum(counts) == 180
    assert all(c > 0 for c in counts), f"both workers should take part: {counts}"
    assert len(far_end.sent) == 180 and set(far_end.times_sent().values()) == {1}
    async with a.db.read() as session:
        assert await session.scalar(select(func.count()).where(OutboxItem.status == "sent")) == 180
