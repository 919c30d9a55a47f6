"""The database layer: one-hop reads, pooled PostgreSQL connections checked after idling,
and the SQLite log checkpoint beside busy readers."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Column, Connection, Integer, MetaData, Table, func, select, text, type_coerce

from inbox.runtime.services import Services
from inbox.store.db import Database
from inbox.store.models import Agent, UTCDateTime, UTCText
from tests.fixtures.databases import PG_ADMIN_URL
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


async def test_query_core_reads_every_commit(services: Services) -> None:
    def emails(conn: Connection) -> list[str]:
        return list(conn.scalars(select(Agent.email).order_by(Agent.id)))

    before = await services.db.query_core(emails)
    await add_agent(services, "ana@example.com")
    assert await services.db.query_core(emails) == [*before, "ana@example.com"]
    many = await asyncio.gather(*(services.db.query_core(emails) for _ in range(20)))  # more than the reader threads
    assert all(result == many[0] for result in many)


async def test_utc_datetimes_read_back_aware_whoever_wrote_them(services: Services) -> None:
    # SQLAlchemy's own text (UTC without a zone) and text other writers leave: an offset of
    # its own, no fraction, a bare date. Each reads back as the same instant, zone attached.
    table = Table("when_test", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    written = dt.datetime(2026, 12, 2, 13, 51, 1, 250000, tzinfo=dt.UTC)
    raw = {2: "2026-01-02 03:04:05", 3: "2026-01-02T03:04:05+02:00", 4: "2026-01-02"}

    def write(conn: Connection) -> None:
        table.create(conn)
        conn.execute(table.insert(), [{"id": 1, "at": written}, {"id": 5, "at": written.replace(microsecond=0)}])
        as_written = ":at"
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))
            as_written = "CAST(:at AS timestamptz)"
        for key, value in raw.items():
            conn.execute(text(f"INSERT INTO when_test (id, at) VALUES (:id, {as_written})").bindparams(id=key, at=value))

    await services.db.run(write)
    read = dict(await services.db.query_core(lambda conn: list(conn.execute(select(table.c.id, table.c.at).order_by(table.c.id)))))
    assert read == {
        1: written,
        2: dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        3: dt.datetime(2026, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
        4: dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        5: written.replace(microsecond=0),
    }
    assert all(value.tzinfo is not None for value in read.values())
    # Read as the text a page shows: what `isoformat()` makes of each, an aggregate's too.
    as_text = type_coerce(table.c.at, UTCText())
    shown = dict(await services.db.query_core(lambda conn: list(conn.execute(select(table.c.id, as_text).order_by(table.c.id)))))
    assert shown == {key: value.isoformat() for key, value in read.items()}
    assert shown[5] == "2026-12-02T13:51:01+00:00"
    earliest = await services.db.query_core(lambda conn: conn.scalar(select(type_coerce(func.min(table.c.at), UTCText()))))
    assert earliest == min(read.values()).isoformat()


async def test_a_pooled_postgres_connection_closed_while_idle_is_replaced_before_use(pg_db_url: str) -> None:
    import asyncpg

    db = Database(pg_db_url, ping_after_idle=0.0)  # every connection back in the pool counts as idle

    def backend(conn: Connection) -> int:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))

    try:
        pid = await db.query_core(backend)
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        # The pooled connection is dead: its ping fails and the pool hands out a new one,
        # so neither a read nor a write sees the error.
        assert await db.query_core(backend) != pid
        assert await db.run(backend) > 0
    finally:
        await db.dispose()


async def test_checkpoint_waits_briefly_for_old_readers_then_truncates(tmp_path: Path) -> None:
    database = tmp_path / "wal.db"
    db = Database(f"sqlite+aiosqlite:///{database}")
    wal = Path(f"{database}-wal")

    def write(conn: Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS note (text TEXT)")
        conn.exec_driver_sql("INSERT INTO note VALUES ('a line')")

    reader = sqlite3.connect(database, isolation_level=None)
    try:
        await db.run(write)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM note").fetchone()  # holds a snapshot in the log
        await db.run(write)
        assert await asyncio.to_thread(os.path.getsize, wal) > 0
        assert await db._checkpoint(patience=0.01) is False  # gave up rather than hold writers
        await db.run(write)  # writers go on
        reader.execute("COMMIT")
        assert await db._checkpoint(patience=0.01) is True
        assert await asyncio.to_thread(os.path.getsize, wal) == 0
        assert await db.query(lambda session: session.scalar(text("SELECT count(*) FROM note"))) == 3
    finally:
        reader.close()
        await db.dispose()
