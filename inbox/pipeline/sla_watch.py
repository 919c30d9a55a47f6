"""The SLA watch: announces `sla.due_soon` and `sla.breached` once per ticket target.

Runs on worker nodes. Each pass is one write transaction serialised with every other
writer, and a ticket remembers what was announced (`sla_flags`), so several workers
never announce the same thing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import cast

from sqlalchemy import Connection, Table, select, update

from channels.base import cancel_task
from inbox import events
from inbox.events import Bus
from inbox.pipeline.ingest import Feed
from inbox.pipeline.tickets import TicketPolicy
from inbox.store.db import Database
from inbox.store.models import Conversation, Ticket, utcnow
from routing.sla import DEFAULT_DUE_SOON, SLAState, sla_event, sla_state

log = logging.getLogger(__name__)

tickets_t = cast(Table, Ticket.__table__)
conversations_t = cast(Table, Conversation.__table__)


def _previous(flags: set[str], target: str) -> SLAState:
    if f"{target}:breached" in flags:
        return "breached"
    if f"{target}:due_soon" in flags:
        return "due_soon"
    return "ok"


def check(conn: Connection, policy: TicketPolicy, now: dt.datetime, feed: Feed) -> None:
    rows = conn.execute(
        select(
            tickets_t.c.id,
            tickets_t.c.number,
            tickets_t.c.priority,
            tickets_t.c.conversation_id,
            tickets_t.c.first_response_due,
            tickets_t.c.resolution_due,
            tickets_t.c.resolved_at,
            tickets_t.c.sla_flags,
            conversations_t.c.first_response_at,
        )
        .outerjoin(conversations_t, conversations_t.c.id == tickets_t.c.conversation_id)
        .where(tickets_t.c.status.not_in(("closed",)), (tickets_t.c.first_response_due.is_not(None)) | (tickets_t.c.resolution_due.is_not(None)))
    ).all()
    for row in rows:
        chosen = policy.sla.get(row.priority)
        due_soon = chosen.due_soon if chosen is not None else DEFAULT_DUE_SOON
        flags = set(row.sla_flags or ())
        before = set(flags)
        for target, due, met in (
            ("first_response", row.first_response_due, row.first_response_at),
            ("resolution", row.resolution_due, row.resolved_at),
        ):
            state = sla_state(now, due, met, due_soon=due_soon)
            event = sla_event(_previous(flags, target), state)
            if event is not None:
                flags.add(f"{target}:{state}")
                payload = {"ticket_id": row.id, "number": row.number, "target": target, "due": due.isoformat() if due else None}
                feed.append((event, payload, row.conversation_id))
        if flags != before:
            conn.execute(update(tickets_t).where(tickets_t.c.id == row.id).values(sla_flags=sorted(flags)))


class SlaWatch:
    def __init__(self, db: Database, bus: Bus, policy: TicketPolicy, *, interval: float = 30.0) -> None:
        self.db = db
        self.bus = bus
        self.policy = policy
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sla-watch")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """One pass; returns how many events it announced."""
        feed: Feed = []

        def work(conn: Connection) -> int:
            events.lock_writers(conn)
            check(conn, self.policy, now or utcnow(), feed)
            return max(events.insert_events(conn, feed), default=0)

        seq = await self.db.run(work)
        if seq:
            await self.bus.publish(seq)
        return len(feed)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SLA watch pass failed; trying again next time")
            await asyncio.sleep(self.interval)
