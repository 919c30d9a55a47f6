"""Ingest throughput: the real pipeline against plain aiosqlite executemany, same run.

    .venv/bin/python bench/ingest.py [--messages 10000] [--batch 100]

Prints messages/s for the pipeline with grouped commits, with a commit per message, and
for a baseline that inserts the same rows (contacts, identities, conversations,
messages, events) with `executemany` in one transaction; then the ratios. Machines here
are shared and noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

# The project root instead of bench/ (whose email.py would shadow the stdlib package).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import aiosqlite  # noqa: E402

from channels.base import InboundMessage, Sender  # noqa: E402
from inbox.events import Bus  # noqa: E402
from inbox.pipeline.ingest import ChannelRef, Ingestor  # noqa: E402
from inbox.store import migrate  # noqa: E402
from inbox.store.db import Database  # noqa: E402
from inbox.store.models import Channel  # noqa: E402


def make_messages(n: int, prefix: str) -> list[InboundMessage]:
    return [
        InboundMessage(
            external_id=f"{prefix}-{i}",
            sender=Sender(address=f"customer{i % 1000}@example.com", name=f"Customer {i % 1000}", email=f"customer{i % 1000}@example.com"),
            text=f"Hello, this is message {i}. My order #{i * 7} has not arrived yet; could you check?",
            subject=f"Order {i % 1000}",
            thread_key=f"thread-{i % 1000}",
        )
        for i in range(n)
    ]


async def fresh_db(template: Path, directory: Path, name: str) -> tuple[Database, ChannelRef, Path]:
    path = directory / f"{name}.db"
    shutil.copyfile(template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.transaction() as session:
        row = Channel(name="bench", type="spool", settings={})
        session.add(row)
        await session.flush()
        ref = ChannelRef(row.id, "bench", "spool")
    return db, ref, path


async def pipeline(template: Path, directory: Path, messages: list[InboundMessage], batch: int, name: str) -> float:
    db, ref, _ = await fresh_db(template, directory, name)
    ingestor = Ingestor(db, Bus())
    start = time.perf_counter()
    for i in range(0, len(messages), batch):
        await ingestor.ingest(ref, messages[i : i + batch])
    elapsed = time.perf_counter() - start
    await db.dispose()
    return len(messages) / elapsed


async def baseline(template: Path, directory: Path, messages: list[InboundMessage]) -> float:
    """The same rows, inserted the fastest plain way: executemany in one transaction."""
    db, ref, path = await fresh_db(template, directory, "baseline")
    await db.dispose()
    now = dt.datetime.now(dt.UTC).isoformat()
    senders = sorted({m.sender.address for m in messages})
    contact_id = {a: i + 1 for i, a in enumerate(senders)}
    threads = sorted({m.thread_key for m in messages if m.thread_key})
    conversation_id = {t: i + 1 for i, t in enumerate(threads)}
    first_sender = {}
    for m in messages:
        first_sender.setdefault(m.thread_key, m.sender.address)
    start = time.perf_counter()
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.executemany(
            "INSERT INTO contact (id, name, email, tags, created_at) VALUES (?, ?, ?, '[]', ?)",
            [(contact_id[a], a, a, now) for a in senders],
        )
        await conn.executemany(
            "INSERT INTO contact_identity (contact_id, channel_id, address, created_at) VALUES (?, ?, ?, ?)",
            [(contact_id[a], ref.id, a, now) for a in senders],
        )
        await conn.executemany(
            "INSERT INTO conversation (id, channel_id, contact_id, thread_key, status, tags, meta, last_message_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'open', '[]', '{}', ?, ?, ?)",
            [(conversation_id[t], ref.id, contact_id[first_sender[t]], t, now, now, now) for t in threads],
        )
        await conn.executemany(
            "INSERT INTO message (conversation_id, channel_id, external_id, direction, author_type, contact_id, subject, text,"
            " private, delivery, automated, meta, created_at) VALUES (?, ?, ?, 'in', 'contact', ?, ?, ?, 0, 'received', 0, '{}', ?)",
            [
                (conversation_id[m.thread_key], ref.id, m.external_id, contact_id[m.sender.address], m.subject, m.text, now)
                for m in messages
            ],
        )
        await conn.executemany(
            "INSERT INTO event (type, conversation_id, payload, created_at) VALUES ('message.created', ?, ?, ?)",
            [(conversation_id[m.thread_key], json.dumps({"external_id": m.external_id}), now) for m in messages],
        )
        await conn.commit()
    return len(messages) / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--single", type=int, default=2_000, help="messages for the commit-per-message run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        await migrate.upgrade(f"sqlite+aiosqlite:///{template}")
        messages = make_messages(args.messages, "m")
        raw = await baseline(template, directory, messages)
        grouped = await pipeline(template, directory, messages, args.batch, "grouped")
        single = await pipeline(template, directory, make_messages(args.single, "s"), 1, "single")
    print(f"messages: {args.messages} (grouped, batches of {args.batch}); {args.single} (a commit per message)")
    print(f"baseline  aiosqlite executemany      {raw:10.0f} msg/s")
    print(f"pipeline  grouped commits            {grouped:10.0f} msg/s   (target >= 2000)")
    print(f"pipeline  a commit per message       {single:10.0f} msg/s   (target >= 500)")
    print(f"ratio     baseline / grouped         {raw / grouped:10.2f}x     (target <= 3x)")


if __name__ == "__main__":
    asyncio.run(main())
