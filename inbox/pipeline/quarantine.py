"""Quarantined input: parse it again with its channel's adapter and ingest it, or say why not."""

from __future__ import annotations

from sqlalchemy import select, update

import channels
from channels.base import IngestResult
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.services import Services
from inbox.store.models import Channel, QuarantineItem


class RetryError(Exception):
    pass


async def retry(services: Services, item_id: int) -> IngestResult:
    async with services.db.read() as session:
        row = (
            await session.execute(
                select(QuarantineItem, Channel).join(Channel, Channel.id == QuarantineItem.channel_id).where(QuarantineItem.id == item_id)
            )
        ).first()
    if row is None:
        raise RetryError(f"no quarantine item {item_id}")
    item, channel_row = row
    if item.status != "held":
        raise RetryError(f"quarantine item {item_id} is {item.status}, not held")
    config = services.config.channel(channel_row.name)
    if config is None:
        raise RetryError(f"channel {channel_row.name!r} is not in the config")
    adapter = channels.build(config, services.channels.context)
    parse = getattr(adapter, "parse", None)
    if parse is None:
        raise RetryError(f"channel type {channel_row.type!r} cannot re-parse its input")
    try:
        message = parse(item.raw)
    except ValueError as exc:
        async with services.db.transaction() as session:
            await session.execute(update(QuarantineItem).where(QuarantineItem.id == item_id).values(error=f"retry failed: {exc}"))
        raise RetryError(f"still cannot parse item {item_id}: {exc}") from None
    ref = ChannelRef(channel_row.id, channel_row.name, channel_row.type)
    [result] = await services.ingestor.ingest(ref, [message])
    if result.quarantined:
        raise RetryError(f"item {item_id} was quarantined again")
    async with services.db.transaction() as session:
        await session.execute(update(QuarantineItem).where(QuarantineItem.id == item_id).values(status="retried"))
    return result
