"""The snooze watch, on worker nodes: every so often, opens the snoozed conversations whose
wake-up time has come (`inbox.actions.conversations.wake_snoozed`). A pass is one write,
serialised with every other writer, so several workers never wake one twice."""

from __future__ import annotations

import asyncio
import logging

from channels.base import cancel_task
from inbox.actions.conversations import wake_snoozed
from inbox.actions.runner import Context

log = logging.getLogger(__name__)


class SnoozeWatch:
    def __init__(self, ctx: Context, *, interval: float = 30.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="snooze-watch")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                woken = await wake_snoozed(self.ctx)
                if woken:
                    log.info("woke %d snoozed conversations", len(woken))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("snooze watch pass failed; trying again next time")
            await asyncio.sleep(self.interval)
