"""The status watch, on worker nodes: after new events, looks for surges of similar
inbound messages (`inbox.actions.surge.run_pass`) and e-mails public incident updates to
the status page's confirmed subscribers (`inbox.actions.status.send_updates`).

It follows the change feed like the outbox: it wakes when the bus says something was
committed (at most once every `interval_seconds`, and at least that often), so the
ingest path never waits for it. Both passes are safe on several workers at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from channels.base import cancel_task
from inbox.actions import status, surge
from inbox.actions.runner import Context
from inbox.config import Config
from routing.surge import Settings

log = logging.getLogger(__name__)


def status_settings(config: Config) -> status.StatusSettings:
    s = config.status
    return status.StatusSettings(
        title=s.title, email_channel=s.email_channel, confirm_hours=s.confirm_hours, public_url=config.server.public_url
    )


def surge_settings(config: Config) -> surge.SurgeSettings:
    s = config.surge
    return surge.SurgeSettings(
        Settings(min_messages=s.min_messages, threshold=s.threshold, name_boost=s.name_boost),
        dt.timedelta(minutes=s.window_minutes),
        s.max_window_messages,
    )


class StatusWatch:
    def __init__(self, ctx: Context, config: Config) -> None:
        self.ctx = ctx
        self.config = config
        self.status = status_settings(config)
        self.surge = surge_settings(config)
        self.interval = config.surge.interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="status-watch")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def run_once(self) -> tuple[list[int], int]:
        """One pass of each: (suggestions created or extended, update e-mails queued)."""
        found = await surge.run_pass(self.ctx, self.surge) if self.config.surge.enabled else []
        sent = await status.send_updates(self.ctx, self.status) if self.status.email_channel else 0
        return found, sent

    async def _run(self) -> None:
        seen = 0
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("status watch pass failed; trying again next time")
            seen = await self.ctx.bus.wait(seen, self.interval)
            await asyncio.sleep(min(self.interval, 2.0))  # gather a burst into one pass
