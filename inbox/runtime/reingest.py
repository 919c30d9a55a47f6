"""The node's side of a quarantine retry: build the channel's adapter to parse the raw
input again, and ingest what it parses (`inbox.actions.quarantine.Reingest`)."""

from __future__ import annotations

from collections.abc import Sequence

import channels
from channels.base import InboundMessage, IngestResult, SupportsParse
from inbox.actions.quarantine import Parse
from inbox.errors import Conflict
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.services import Services


class Reingestor:
    def __init__(self, services: Services) -> None:
        self._services = services

    def parser(self, channel: str) -> Parse:
        config = self._services.config.channel(channel)
        if config is None:
            raise Conflict(f"channel {channel!r} is not in the config")
        adapter = channels.build(config, self._services.channels.context)
        if not isinstance(adapter, SupportsParse):
            raise Conflict(f"channel type {config.type!r} cannot re-parse its input")
        return adapter.parse

    async def ingest(self, channel: ChannelRef, messages: Sequence[InboundMessage]) -> list[IngestResult]:
        return await self._services.ingestor.ingest(channel, messages)
