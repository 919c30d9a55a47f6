"""The SLA watch: every so often, announces `sla.due_soon` and `sla.breached` once per ticket target.

Runs on worker nodes. Each pass is one write (`perform`, as the system actor "sla"),
serialised with every other writer; what it announces is `inbox.pipeline.sla_watch.check`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from channels.base import cancel_task
from inbox.actions.runner import Actor, Tx, perform
from inbox.events import Bus
from inbox.pipeline.sla_watch import check
from inbox.pipeline.tickets import TicketPolicy
from inbox.store.db import Database

log = logging.getLogger(__name__)

SLA = Actor.system("sla")


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

        def work(tx: Tx) -> int:
            # `perform` holds the writers' lock before this reads the flags, so two
            # workers' passes never both announce.
            check(tx.conn, self.policy, now or tx.now, tx.feed)
            return len(tx.feed)

        return await perform(self.db, self.bus, SLA, work)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SLA watch pass failed; trying again next time")
            await asyncio.sleep(self.interval)
