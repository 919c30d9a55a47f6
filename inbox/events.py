"""The change feed: events with a global `seq`, and the bus that wakes listeners.

Events are rows written in the same transaction as the change they describe. The bus
only says "something newer than seq N exists"; listeners re-read the database, so a
lost wake-up costs latency, never data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import cancel_task
from inbox.store.db import insert_ids
from inbox.store.models import Event, utcnow

log = logging.getLogger(__name__)

events_t = cast(Table, Event.__table__)

# Any constant works; it only has to be the same on every node.
_EVENT_LOCK_KEY = 0x46_44_45_56  # "FDEV"


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    type: str
    conversation_id: int | None
    payload: dict[str, Any]
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "conversation_id": self.conversation_id,
            "payload": self.payload,
            "created_at": self.created_at,
        }


Signal = dict[str, Any]


class Bus:
    """In-process wake-ups; `RedisBus` extends them across nodes.

    Besides wake-ups the bus carries *signals*: ephemeral, best-effort notices such as
    "an agent is typing in conversation 7". They are never stored; losing one costs a
    missing typing indicator, nothing else.
    """

    def __init__(self) -> None:
        self._latest = 0
        self._changed = asyncio.Condition()
        self._listeners: list[Callable[[Signal], None]] = []
        self.node = uuid.uuid4().hex[:12]

    @property
    def latest(self) -> int:
        return self._latest

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, seq: int) -> None:
        await self._wake(seq)

    async def _wake(self, seq: int) -> None:
        async with self._changed:
            if seq > self._latest:
                self._latest = seq
            self._changed.notify_all()

    async def wait(self, after: int, timeout: float) -> int:
        """Return the newest known seq once it passes `after`, or at timeout."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self._latest > after), timeout)
            return self._latest

    def on_signal(self, listener: Callable[[Signal], None]) -> Callable[[], None]:
        """Call `listener` with every signal (from any node); returns the unsubscriber."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    async def signal(self, payload: Signal) -> None:
        self._deliver(payload)

    def _deliver(self, payload: Signal) -> None:
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:
                log.exception("signal listener failed")


class RedisBus(Bus):
    """Wake-ups over Redis pub/sub, so every node's listeners re-read the database."""

    CHANNEL = "frontdesk:events"
    SIGNALS = "frontdesk:signals"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._task: asyncio.Task[None] | None = None
        self._redis: Any = None

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self._url)
        self._task = asyncio.create_task(self._listen(), name="bus:redis")

    async def stop(self) -> None:
        await cancel_task(self._task)
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, seq: int) -> None:
        await self._wake(seq)
        try:
            await self._redis.publish(self.CHANNEL, str(seq))
        except Exception as exc:  # other nodes catch up on their next poll
            log.warning("redis publish failed: %s", exc)

    async def signal(self, payload: Signal) -> None:
        self._deliver(payload)
        try:
            await self._redis.publish(self.SIGNALS, json.dumps({"node": self.node, "signal": payload}))
        except Exception as exc:  # best effort by definition
            log.debug("redis signal publish failed: %s", exc)

    def _remote_signal(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("node") != self.node and isinstance(message.get("signal"), dict):
            self._deliver(message["signal"])

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self.CHANNEL, self.SIGNALS)
                delay = 0.5
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    if item.get("channel") in (self.SIGNALS, self.SIGNALS.encode()):
                        self._remote_signal(item["data"])
                    else:
                        await self._wake(int(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis bus disconnected (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def make_bus(url: str) -> Bus:
    return RedisBus(url) if url else Bus()


_LOCK_WRITERS = text("SELECT pg_advisory_xact_lock(:key)")


def lock_writers(conn: Connection) -> None:
    """Make seq order equal commit order on PostgreSQL (SQLite has one writer already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_WRITERS, {"key": _EVENT_LOCK_KEY})


def insert_events(conn: Connection, rows: list[tuple[str, dict[str, Any], int | None]]) -> list[int]:
    """Write events in the caller's (synchronous) transaction; the caller wakes the bus."""
    if not rows:
        return []
    now = utcnow()
    return insert_ids(conn, events_t, [{"type": t, "payload": p, "conversation_id": c, "created_at": now} for t, p, c in rows], key="seq")


async def since(session: AsyncSession, after: int, limit: int = 500, conversation_ids: list[int] | None = None) -> list[EventRecord]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if conversation_ids is not None:
        query = query.where(Event.conversation_id.in_(conversation_ids))
    rows = (await session.scalars(query)).all()
    return [EventRecord(r.seq, r.type, r.conversation_id, r.payload, r.created_at.isoformat()) for r in rows]


async def latest_seq(session: AsyncSession) -> int:
    return int((await session.scalar(select(func.max(Event.seq)))) or 0)


async def stream(db: Any, bus: Bus, after: int, *, poll: float = 5.0) -> AsyncIterator[EventRecord]:
    """Every event after `after`, forever: re-read on each wake-up, poll as a fallback."""
    cursor = after
    while True:
        async with db.read() as session:
            batch = await since(session, cursor)
        for record in batch:
            cursor = record.seq
            yield record
        if not batch:
            await bus.wait(cursor, poll)
