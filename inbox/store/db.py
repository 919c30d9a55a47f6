"""Engines and transactions for SQLite (WAL, one writer) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

log = logging.getLogger(__name__)

T = TypeVar("T")

# The threads (each with its own connection) that run `query` and `query_core` on SQLite. Two:
# SQLite runs a statement without the GIL, so a second thread overlaps one read's statement
# with another's Python; with four, ten agents at once cost twice the CPU per request (the
# threads take the GIL from each other, and four caches hold less of the desk than two
# twice as big; docs/performance.md, "Stop 5").
READER_THREADS = 2
# A pooled PostgreSQL connection idle longer than this is pinged before use (a restarted
# server closed it); one in steady use is not: the ping is three round trips (BEGIN, an
# empty statement, ROLLBACK) on every checkout, and a reply checks out several. A
# connection that breaks in use anyway makes SQLAlchemy invalidate the whole pool.
PING_AFTER_IDLE_SECONDS = 1.0
BUSY_TIMEOUT_MS = 10_000  # how long a statement waits for SQLite's lock before failing
# SQLite's page cache per connection, in KiB (its default is 2 MiB). Past a few hundred MB of
# database every insert touches index pages the default cache no longer holds and reads them
# again from the file: at 250,000 messages ingest made 8,000 `pread`s a second and slowed
# to a third (docs/performance.md). A writer's cache holds the indexes' busy pages; a
# reader's the pages of the lists and searches agents repeat: the reader threads serve the
# API's and the inbox's reads, the async readers (`pool_size` of them) the rest. The caches
# fill only as pages are read, and they are the daemon's memory: 2 × 64 + 2 × 16 + 10 × 4
# MiB at most, on a desk big enough to fill them.
WRITER_CACHE_KIB = 64 * 1024
READER_THREAD_CACHE_KIB = 16 * 1024
READER_CACHE_KIB = 4 * 1024


class Database:
    """Owns the engines. Writes go through `transaction()`, reads through `read()`.

    On SQLite, writes use `BEGIN IMMEDIATE` on a single pooled connection, so writers
    queue in asyncio instead of spinning on the file lock, and readers (WAL) never
    block them.
    """

    def __init__(self, url: str, *, pool_size: int = 10, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.write_engine = _sqlite_engine(url, immediate=True, pool_size=1)
            self.read_engine = _sqlite_engine(url, immediate=False, pool_size=pool_size)
            # Hot write paths run whole transactions in one thread hop (see `run`).
            self._sync_writer: Engine | None = _sqlite_sync_engine(url)
            self._writer_thread: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
            # Hot read paths likewise (see `query`).
            self._sync_reader: Engine | None = _sqlite_sync_engine(
                url, immediate=False, pool_size=READER_THREADS, cache_kib=READER_THREAD_CACHE_KIB
            )
            self._reader_threads: ThreadPoolExecutor | None = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        else:
            self._sync_writer = None
            self._writer_thread = None
            self._sync_reader = None
            self._reader_threads = None
            self.write_engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
            _ping_when_idle(self.write_engine.sync_engine, ping_after_idle)
            self.read_engine = self.write_engine
        # SQLite has one writer at a time. Our two write paths (the async session and the
        # writer thread) take turns on this lock, so they queue in asyncio rather than
        # collide on the file lock, whose busy handler sleeps for milliseconds at a time.
        self._write_turn: asyncio.Lock | contextlib.nullcontext[None] = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # `query` on PostgreSQL: each statement on its own (autocommit), which is what a read
        # at READ COMMITTED sees anyway (every statement its own snapshot), without a BEGIN
        # and a ROLLBACK round trip around it.
        self._autocommit_engine = None if self.is_sqlite else self.read_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._autocommit_reader = (
            None if self._autocommit_engine is None else async_sessionmaker(self._autocommit_engine, expire_on_commit=False)
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction on the async session (the runtime's bookkeeping writes;
        domain writes go through `Database.run`, via the actions' runner)."""
        async with self._write_turn, self._writer() as session:
            async with session.begin():
                yield session

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` as one write transaction and return its result.

        `work` is plain synchronous SQLAlchemy Core. On SQLite it runs in the single
        writer thread on the stdlib driver (one thread hop for the whole transaction
        instead of several per statement); on PostgreSQL it runs in SQLAlchemy's
        greenlet bridge over asyncpg. The event loop is never blocked.
        """
        if self._sync_writer is not None and self._writer_thread is not None:
            engine = self._sync_writer

            def in_thread() -> T:
                with engine.begin() as conn:
                    return work(conn)

            async with self._write_turn:
                return await asyncio.get_running_loop().run_in_executor(self._writer_thread, in_thread)
        # One hop into SQLAlchemy's greenlet bridge for connect, begin, work, commit and
        # close (the async wrappers make one each).
        engine = self.write_engine.sync_engine

        def in_greenlet() -> T:
            with engine.begin() as conn:
                return work(conn)

        result: T = await greenlet_spawn(in_greenlet)
        return result

    async def query(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` as one read transaction and return its result.

        `work` is plain synchronous SQLAlchemy (ORM or Core) on a `Session`. On SQLite it
        runs in a reader thread on the stdlib driver: one thread hop for the whole read,
        where an async session makes several per statement, each waiting for the event
        loop (and for the GIL while the loop is busy). On PostgreSQL it runs in
        SQLAlchemy's greenlet bridge over asyncpg, each statement in autocommit (no BEGIN
        and ROLLBACK round trips; at READ COMMITTED each statement sees its own snapshot
        anyway): `work` only reads. Objects it returns are detached.
        """
        if self._sync_reader is not None and self._reader_threads is not None:
            engine = self._sync_reader

            def in_thread() -> T:
                with Session(engine, expire_on_commit=False) as session:
                    return work(session)

            return await asyncio.get_running_loop().run_in_executor(self._reader_threads, in_thread)
        assert self._autocommit_reader is not None
        async with self._autocommit_reader() as session:
            return await session.run_sync(work)

    async def query_core(self, work: Callable[[Connection], T]) -> T:
        """`query` for plain Core reads on a `Connection`: no ORM session to set up and
        close around them (the hottest reads: API tokens, the outbox's and the webhooks'
        checks on every commit, the shape of a reply)."""
        if self._sync_reader is not None and self._reader_threads is not None:
            engine = self._sync_reader

            def in_thread() -> T:
                with engine.connect() as conn:
                    return work(conn)

            return await asyncio.get_running_loop().run_in_executor(self._reader_threads, in_thread)
        assert self._autocommit_engine is not None
        reader = self._autocommit_engine.sync_engine

        def read_in_greenlet() -> T:
            with reader.connect() as conn:
                return work(conn)

        found: T = await greenlet_spawn(read_in_greenlet)
        return found

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session:
            yield session

    async def checkpoints(self, every: float = 1.0, wal_bytes: int = 4 * 1024 * 1024) -> None:
        """SQLite only, forever: when the write-ahead log passes `wal_bytes`, fold it back
        into the database and truncate it. SQLite's own automatic checkpoints never get
        to restart the log while some reader is always active, so under steady reads it
        grows without bound (hundreds of MB) and every read and commit slows down."""
        database = make_url(self.url).database
        if not self.is_sqlite or not database or database == ":memory:":
            return
        wal = Path(f"{database}-wal")
        while True:
            await asyncio.sleep(every)
            try:
                size = await asyncio.to_thread(_file_size, wal)
                if size > wal_bytes:
                    # The longer the log, the longer we may hold writers back to restart it.
                    await self._checkpoint(patience=0.02 if size < 4 * wal_bytes else 0.25)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("WAL checkpoint failed; retrying later", exc_info=True)

    async def _checkpoint(self, patience: float) -> bool:
        """Fold the log into the database, then restart it; False if readers kept it.

        First a passive checkpoint from a reader thread, beside the writers; then, holding
        the write turn, the short rest and the truncation. Truncating must wait until no
        reader still reads an older snapshot from the log; SQLite's busy handler would
        wait in sleeps of up to 100 ms while every writer queues, so we poll each
        millisecond instead and give up after `patience` seconds (next time, then).
        """
        assert self._sync_writer is not None and self._writer_thread is not None
        assert self._sync_reader is not None and self._reader_threads is not None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._reader_threads, _wal_checkpoint, self._sync_reader, "PASSIVE", 0.0)
        async with self._write_turn:
            return await loop.run_in_executor(self._writer_thread, _wal_checkpoint, self._sync_writer, "TRUNCATE", patience)

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._sync_writer is not None and self._writer_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._sync_writer.dispose)
            self._writer_thread.shutdown(wait=False)
        if self._sync_reader is not None and self._reader_threads is not None:
            await asyncio.to_thread(self._reader_threads.shutdown, wait=True)  # reads in flight finish
            self._sync_reader.dispose()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _wal_checkpoint(engine: Engine, mode: str, patience: float) -> bool:
    """`PRAGMA wal_checkpoint(mode)` on a raw connection (a checkpoint cannot run inside a
    transaction), retried every millisecond for up to `patience` seconds while busy."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout=0")
        try:
            deadline = time.monotonic() + patience
            while True:
                busy, _, _ = raw.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                if not busy:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.001)
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """`pool_pre_ping` for connections that sat in the pool longer than `idle` seconds."""

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool throws this connection away and checks out another (a fresh one).
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc


def _sqlite_sync_engine(url: str, *, immediate: bool = True, pool_size: int = 1, cache_kib: int | None = None) -> Engine:
    engine = create_engine(url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1), pool_size=pool_size, max_overflow=0)
    _sqlite_pragmas(engine, immediate=immediate, cache_kib=cache_kib)
    return engine


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
    _sqlite_pragmas(engine.sync_engine, immediate=immediate)
    return engine


def _sqlite_pragmas(engine: Engine, *, immediate: bool, cache_kib: int | None = None) -> None:
    cache = cache_kib or (WRITER_CACHE_KIB if immediate else READER_CACHE_KIB)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{cache}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def insert_ids(conn: Connection, table: Any, rows: list[dict[str, Any]], key: str = "id") -> list[int]:
    """Insert rows and return their new ids in row order, in one round trip either way.

    PostgreSQL: RETURNING in parameter order (SQLAlchemy batches it). SQLite cannot
    promise RETURNING order, so SQLAlchemy would fall back to one statement per row;
    inside our write transaction (BEGIN IMMEDIATE: we are the only writer) we assign
    max(id)+1.. ourselves, which is what SQLite's rowid allocation does anyway.
    """
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        start = int(conn.scalar(_highest_id(table, key)) or 0) + 1
        ids = list(range(start, start + len(rows)))
        conn.execute(_insert(table), [{**row, key: i} for row, i in zip(rows, ids, strict=True)])
        return ids
    result = conn.execute(_insert_returning(table, key), rows)
    return [row[0] for row in result]


@functools.cache
def _insert(table: Any) -> Any:
    return insert(table)


@functools.cache
def _insert_returning(table: Any, key: str) -> Any:
    return insert(table).returning(table.c[key], sort_by_parameter_order=True)


@functools.cache
def _highest_id(table: Any, key: str) -> Select[tuple[int]]:
    """Built once per table: constructing and hashing the query cost four times running it."""
    return select(func.coalesce(func.max(table.c[key]), 0))
