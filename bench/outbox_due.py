"""The outbox worker's claim on a desk with history, beside a primary-key read in the same run.

    python -m bench.outbox_due [--database sqlite|postgresql|both] [--sent 200000] [--backlog 3000] [--n 200]

Every commit of the desk wakes each node's outbox worker, which claims what is due on the
channels it runs (`OutboxWorker.claim`): most wake-ups find nothing and end after one read.
For each database this builds a fresh migrated database with two channels: "ours" (the
node's) with `--sent` sent items, and "stopped" (a channel no node runs: its bot token was
revoked, say) with `--backlog` pending items all due. Then `ANALYZE`, as migration 0022
and any careful operator do, and it times in process:

- **nothing due**: `claim(16)` for "ours" when none of its items is due (20 wait for later,
  2 are in flight under a live lease): the read every commit makes;
- **a broadcast**: `claim(16)` for "ours" and "stopped" while "ours" has 2,000 items due
  (each claim is put back untimed, so every claim sees the same backlog);
- **floor**: one outbox item read by its primary key, through the same `Database.query_core`.

It prints the median of each in milliseconds and its ratio to the floor. The figures are
wall time in one process with nothing else running in it; on PostgreSQL they include the
server's work.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update

PG_HOST = os.environ.get("FRONTDESK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FRONTDESK_TEST_PG_PORT", "5432"))
BROADCAST = 2_000


async def _median_ms(n: int, step: Callable[[], Awaitable[Any]], after: Callable[[], Awaitable[Any]] | None = None) -> float:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        await step()
        took.append(time.perf_counter() - start)
        if after is not None:
            await after()
    return statistics.median(took) * 1000


async def _seed(db: Any, sent: int, backlog: int) -> tuple[int, int]:
    from inbox.store.models import Channel, OutboxItem, utcnow

    def channels(conn: Any) -> tuple[int, int]:
        ids = conn.execute(
            insert(Channel).returning(Channel.id),
            [{"name": name, "type": "spool", "settings": {}} for name in ("ours", "stopped")],
        ).scalars()
        ours, stopped = ids
        return ours, stopped

    ours, stopped = await db.run(channels)
    now = utcnow()

    def item(n: int, channel_id: int, status: str, at: dt.datetime, claimed_until: dt.datetime | None = None) -> dict[str, Any]:
        return {
            "channel_id": channel_id,
            "status": status,
            "next_attempt_at": at,
            "claimed_until": claimed_until,
            "idempotency_key": f"bench-{n}",
        }

    rows = [item(n, ours, "sent", now - dt.timedelta(days=n % 1000 + 1)) for n in range(sent)]
    rows += [item(sent + n, stopped, "pending", now - dt.timedelta(minutes=n % 600 + 1)) for n in range(backlog)]
    rows += [item(sent + backlog + n, ours, "pending", now + dt.timedelta(hours=1)) for n in range(20)]
    rows += [item(sent + backlog + 20 + n, ours, "sending", now, now + dt.timedelta(hours=1)) for n in range(2)]
    for start in range(0, len(rows), 10_000):
        await db.run(lambda conn, part=rows[start : start + 10_000]: conn.execute(insert(OutboxItem), part))
    await db.run(lambda conn: conn.execute(text("ANALYZE")))
    return ours, stopped


async def measure(url: str, sent: int, backlog: int, n: int) -> dict[str, float]:
    from inbox.config import OutboxConfig
    from inbox.events import Bus
    from inbox.pipeline.outbox import OutboxWorker
    from inbox.store import migrate
    from inbox.store.db import Database
    from inbox.store.models import OutboxItem, utcnow

    await migrate.upgrade(url)
    db = Database(url)
    try:
        ours, stopped = await _seed(db, sent, backlog)
        config = OutboxConfig(concurrency=16)
        node = OutboxWorker(db, Bus(), lambda _: None, config, channel_ids=lambda: [ours])
        both = OutboxWorker(db, Bus(), lambda _: None, config, channel_ids=lambda: [ours, stopped])
        first_id = await db.query_core(lambda conn: conn.scalar(select(OutboxItem.id).limit(1)))

        async def nothing_due() -> None:
            assert await node.claim(16) == []

        floor = await _median_ms(n, lambda: db.query_core(lambda conn: conn.scalar(select(OutboxItem.id).where(OutboxItem.id == first_id))))
        idle = await _median_ms(n, nothing_due)

        due_at = utcnow() - dt.timedelta(minutes=5)
        await db.run(
            lambda conn: conn.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_(
                        select(OutboxItem.id).where(OutboxItem.channel_id == ours, OutboxItem.status == "sent").limit(BROADCAST)
                    )
                )
                .values(status="pending", next_attempt_at=due_at)
            )
        )

        async def put_back() -> None:
            await db.run(
                lambda conn: conn.execute(
                    update(OutboxItem)
                    .where(OutboxItem.status == "sending", OutboxItem.claimed_by == both.worker_id)
                    .values(status="pending", next_attempt_at=due_at, claimed_by=None, claimed_until=None, attempts=0)
                )
            )

        async def broadcast_claim() -> None:
            assert len(await both.claim(16)) == 16

        broadcast = await _median_ms(n, broadcast_claim, put_back)
        return {"floor_ms": floor, "nothing_due_ms": idle, "broadcast_claim_ms": broadcast}
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sent", type=int, default=200_000)
    parser.add_argument("--backlog", type=int, default=3_000)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        with tempfile.TemporaryDirectory() as folder:
            if database == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(folder) / 'outbox.db'}"
                figures = await measure(url, args.sent, args.backlog, args.n)
            else:
                import asyncpg

                name = f"fd_outbox_{uuid.uuid4().hex[:8]}"
                admin = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
                conn = await asyncpg.connect(admin)
                await conn.execute(f'CREATE DATABASE "{name}"')
                await conn.close()
                try:
                    figures = await measure(f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}", args.sent, args.backlog, args.n)
                finally:
                    conn = await asyncpg.connect(admin)
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await conn.close()
        floor = figures["floor_ms"]
        print(
            f"{database}: {args.sent:,} sent, {args.backlog:,} due on a stopped channel — "
            f"nothing due {figures['nothing_due_ms']:.3f} ms ({figures['nothing_due_ms'] / floor:.1f}× floor), "
            f"claim of 16 in a broadcast of {BROADCAST:,} {figures['broadcast_claim_ms']:.3f} ms "
            f"({figures['broadcast_claim_ms'] / floor:.1f}× floor), floor {floor:.3f} ms",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
