"""Running channels: config provisioning, adapter start/stop, the sink each one gets.

Every node builds every channel's adapter. Webhook traffic (Slack events, Telegram
webhooks) may reach any web node, so each adapter is `attach`ed to an unfenced sink
there. Receivers that pull from the outside (IMAP, Telegram polling, the spool folder)
run on exactly one worker node: the holder of the channel's lease, whose sink is fenced.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

import channels
from channels.base import (
    Channel,
    ChannelConfig,
    ChannelContext,
    InboundMessage,
    IngestResult,
    Interaction,
    InteractionAnswer,
    SupportsAttach,
    cancel_task,
)
from inbox import metrics
from inbox.events import Bus
from inbox.pipeline.ingest import ChannelRef, Ingestor
from inbox.store import leases
from inbox.store.db import Database
from inbox.store.leases import Fence
from inbox.store.models import Channel as ChannelRow
from routing.request_types import RequestTypeSpec
from widget.requests import RequestResult

log = logging.getLogger(__name__)


# What a button press becomes, on every channel (set by `Services.interact`: ratings, comments, approvals).
InteractionHandler = Callable[[ChannelRef, Interaction], Awaitable[InteractionAnswer]]
# Makes a conversation a request ticket of a type with the answers: (conversation id, type, answers) -> ticket id.
RequestAttacher = Callable[[int, RequestTypeSpec, Mapping[str, str]], Awaitable[int]]


class ChannelSink:
    """The inbox as one adapter sees it (channels.base.Sink, SupportsInteractions and
    widget.requests.RequestSink)."""

    def __init__(
        self,
        ingestor: Ingestor,
        channel: ChannelRef,
        fence: Fence | None = None,
        interactions: InteractionHandler | None = None,
        requests: RequestAttacher | None = None,
    ) -> None:
        self._ingestor = ingestor
        self.channel = channel
        self.fence = fence
        self._interactions = interactions
        self._requests = requests

    async def open_request(self, message: InboundMessage, spec: RequestTypeSpec, fields: Mapping[str, str]) -> RequestResult | None:
        """A request form from the widget: its message through the ingest pipeline (the rules see
        `meta.request`), then its conversation a request ticket, as for a portal request. A resend
        (the same external id) stores no second message and finds the same ticket."""
        if self._requests is None:
            return None
        [result] = await self.ingest([message])
        if result.message_id is None or result.conversation_id is None:
            return None
        ticket_id = await self._requests(result.conversation_id, spec, fields)
        return RequestResult(result.message_id, result.conversation_id, ticket_id, result.duplicate)

    async def interact(self, interaction: Interaction) -> InteractionAnswer:
        """A button pressed on this channel (or what the press asked for next)."""
        if self._interactions is None:
            return InteractionAnswer()
        return await self._interactions(self.channel, interaction)

    async def ingest(self, messages: Sequence[InboundMessage], *, cursor: str | None = None) -> list[IngestResult]:
        with metrics.INGEST_SECONDS.time():
            results = await self._ingestor.ingest(self.channel, messages, cursor=cursor, fence=self.fence)
        for result in results:
            if result.quarantined:
                metrics.MESSAGES_QUARANTINED.labels(self.channel.name).inc()
            elif result.duplicate:
                metrics.MESSAGES_DUPLICATE.labels(self.channel.name).inc()
            else:
                metrics.MESSAGES_INGESTED.labels(self.channel.name).inc()
        return results

    async def quarantine(self, raw: bytes, error: str, *, external_id: str | None = None) -> None:
        metrics.MESSAGES_QUARANTINED.labels(self.channel.name).inc()
        await self._ingestor.quarantine(self.channel, raw, error, external_id)

    async def cursor(self) -> str | None:
        return await self._ingestor.cursor(self.channel)


@dataclass(slots=True)
class Running:
    ref: ChannelRef
    config: ChannelConfig
    adapter: Channel
    fence: Fence | None = None  # set while this node runs the receiver

    @property
    def started(self) -> bool:
        return self.fence is not None


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ChannelRuntime:
    def __init__(self, db: Database, ingestor: Ingestor, context: ChannelContext, *, lease_ttl: float = 10.0) -> None:
        self.db = db
        self.ingestor = ingestor
        self.context = context
        self.node = node_name()
        self.lease_ttl = lease_ttl
        self.interactions: InteractionHandler | None = None
        self._by_name: dict[str, Running] = {}
        self._by_id: dict[int, Running] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._reloading = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()
        # Widget request forms' tickets (set by Services; None: refused as unavailable).
        self.requests: RequestAttacher | None = None

    async def provision(self, configs: Sequence[ChannelConfig]) -> None:
        """Make a row for every channel of the config file (read-only in the UI)."""
        async with self.db.transaction() as session:
            rows = {r.name: r for r in (await session.scalars(select(ChannelRow))).all()}
            for config in configs:
                row = rows.get(config.name)
                if row is None:
                    settings = {"csat": True, "csat_delay": config.csat_delay} if config.csat else {}
                    session.add(ChannelRow(name=config.name, type=config.type, provisioned=True, enabled=config.enabled, settings=settings))
                elif row.type != config.type:
                    raise ValueError(f"channel {config.name!r} exists in the database with type {row.type!r}, config says {config.type!r}")
                else:
                    row.provisioned = True
                    row.enabled = config.enabled
                    # The resolve transaction reads the channel's `csat` from its row.
                    wanted = {"csat": config.csat, "csat_delay": config.csat_delay}
                    if any((row.settings or {}).get(k) != v for k, v in wanted.items()):
                        row.settings = {**(row.settings or {}), **wanted}

    async def build(self, configs: Sequence[ChannelConfig]) -> None:
        """Build every enabled adapter and attach it (for webhooks) to an unfenced sink."""
        async with self.db.read() as session:
            ids = {r.name: r.id for r in (await session.execute(select(ChannelRow.name, ChannelRow.id))).all()}
        for config in configs:
            if not config.enabled:
                continue
            ref = ChannelRef(ids[config.name], config.name, config.type)
            running = Running(ref, config, channels.build(config, self.context))
            if isinstance(running.adapter, SupportsAttach):
                running.adapter.attach(ChannelSink(self.ingestor, ref, interactions=self.interactions, requests=self.requests))
            self._by_name[config.name] = running
            self._by_id[ref.id] = running

    async def reload(self, wanted: Sequence[ChannelConfig]) -> None:
        """Converge on `wanted`: stop what went away or changed, build what is new, and
        take the new receivers' leases now (not at the next renewal)."""
        async with self._reloading:
            by_name = {c.name: c for c in wanted if c.enabled}
            for name, running in list(self._by_name.items()):
                if by_name.get(name) != running.config:
                    log.info("channel %s: removed or changed; stopping it here", name)
                    if running.started:
                        await self._stop_receiver(running, release=True)
                        with contextlib.suppress(Exception):
                            await self._set_status(running.ref.id, "stopped", None)
                    del self._by_name[name]
                    self._by_id.pop(running.ref.id, None)
            await self.build([c for name, c in by_name.items() if name not in self._by_name])
            if self._keeper is not None:
                await self.keep_once()

    def watch(self, bus: Bus, wanted: Callable[[], Awaitable[Sequence[ChannelConfig]]]) -> Callable[[], None]:
        """Reload whenever a node announces `channels.changed`; returns the unsubscriber."""

        async def reload() -> None:
            try:
                await self.reload(await wanted())
            except Exception:
                log.exception("reloading channels failed")

        def on_signal(signal: dict[str, Any]) -> None:
            if signal.get("kind") == "channels.changed":
                task = asyncio.create_task(reload(), name="channels-reload")
                self._reloads.add(task)
                task.add_done_callback(self._reloads.discard)

        return bus.on_signal(on_signal)

    # -- receivers, one node per channel ---------------------------------------------------

    async def start_receivers(self) -> None:
        """Take what leases we can now, then keep them (and take over dead nodes') in the background."""
        await self.keep_once()
        self._keeper = asyncio.create_task(self._keep(), name="channel-leases")

    async def keep_once(self) -> None:
        for running in list(self._by_name.values()):
            try:
                fence = await self.db.run(
                    functools.partial(leases.acquire, channel_id=running.ref.id, holder=self.node, ttl=self.lease_ttl)
                )
            except Exception:
                log.exception("channel %s: lease renewal failed", running.ref.name)
                fence = None
            if fence is not None and fence != running.fence:
                if running.started:
                    await self._stop_receiver(running, release=False)
                await self._start_receiver(running, fence)
            elif fence is None and running.started:
                log.warning("channel %s: lease lost to another node; stopping the receiver here", running.ref.name)
                await self._stop_receiver(running, release=False)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            await self.keep_once()

    async def _start_receiver(self, running: Running, fence: Fence) -> None:
        try:
            await running.adapter.start(ChannelSink(self.ingestor, running.ref, fence, self.interactions, requests=self.requests))
            running.fence = fence
            log.info("channel %s: receiver running on this node (lease %d)", running.ref.name, fence.token)
            await self._set_status(running.ref.id, "running", None)
        except Exception as exc:
            log.exception("channel %s failed to start", running.ref.name)
            await self._set_status(running.ref.id, "error", f"{type(exc).__name__}: {exc}")
            await self.db.run(lambda conn: leases.release(conn, fence))

    async def _stop_receiver(self, running: Running, *, release: bool) -> None:
        fence = running.fence
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running.adapter.stop(), 10)
        running.fence = None
        if release and fence is not None:
            with contextlib.suppress(Exception):
                await self.db.run(lambda conn: leases.release(conn, fence))

    async def stop(self) -> None:
        await cancel_task(self._keeper)
        self._keeper = None
        for running in self._by_name.values():
            if running.started:
                await self._stop_receiver(running, release=True)
                with contextlib.suppress(Exception):
                    await self._set_status(running.ref.id, "stopped", None)

    # -- lookups ---------------------------------------------------------------------------

    def by_name(self, name: str) -> Running | None:
        return self._by_name.get(name)

    def adapter_for(self, channel_id: int) -> Channel | None:
        running = self._by_id.get(channel_id)
        return running.adapter if running else None

    def adapter_named(self, name: str) -> Channel | None:
        running = self._by_name.get(name)
        return running.adapter if running else None

    def ids(self) -> list[int]:
        return list(self._by_id)

    async def _set_status(self, channel_id: int, status: str, error: str | None) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(status=status, last_error=error))
