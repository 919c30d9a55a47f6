"""The database layer: one-hop reads, and the SQLite log checkpoint beside busy readers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from inbox.models import Agent
from inbox.services import Services
from tests.fixtures.inbox import add_agent


async def test_query_reads_every_commit_and_returns_usable_objects(services: Services) -> None:
    def names(session) -> list[str]:  # type: ignore[no-untyped-def]
        return list(session.scalars(select(Agent.name).order_by(Agent.id)))

    before = await services.db.query(names)
    await add_agent(services, "ana@example.com")
    assert await services.db.query(names) == [*before, "Ana"]
    agent = await services.db.query(lambda session: session.scalar(select(Agent).where(Agent.email == "ana@example.com")))
    assert agent is not None and agent.email == "ana@example.com"  # detached, attributes loaded
    many = await asyncio.gather(*(services.db.query(names) for _ in range(20)))  # more than the reader threads
    assert all(result == many[0] for result in many)


async def test_checkpoint_waits_briefly_for_old_readers_then_truncates(services: Services, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the write-ahead log checkpoint is SQLite's")
    database = Path(db_url.split("///", 1)[1])
    wal = Path(f"{database}-wal")
    await add_agent(services, "first@example.com")
    reader = sqlite3.connect(database, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM agent").fetchone()  # holds a snapshot in the log
        await add_agent(services, "second@example.com")
        assert wal.stat().st_size > 0
        assert await services.db._checkpoint(patience=0.01) is False  # gave up; writers were not held long
        assert (await services.db.query(lambda s: s.scalar(select(Agent.id).where(Agent.email == "second@example.com")))) is not None
        reader.execute("COMMIT")
        assert await services.db._checkpoint(patience=0.01) is True
        assert wal.stat().st_size == 0
    finally:
        reader.close()
