"""Quarantined input: parse it again and ingest it (retry), or throw it away (discard).

A retry is two writes: the ingest stores the message in its own transaction (as it does
for any input), then the item is marked `retried`. Retrying again after a crash between
the two is harmless: the ingest finds the message already stored (a duplicate).

Audit entries: `quarantine.retry` {ok, message_id, conversation_id} after a retry,
{ok: false, error} when the input still cannot be parsed or was quarantined again;
`quarantine.delete` {channel} when an item is discarded (its raw bytes are dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.sql import ColumnElement

from channels.base import InboundMessage, IngestResult
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, NotFound
from inbox.pipeline.ingest import ChannelRef
from inbox.store.models import Channel, QuarantineItem

Parse = Callable[[bytes], InboundMessage]
HELD = "held"


class Reingest(Protocol):
    """The running node, as a retry sees it: a channel's parser and the ingest."""

    def parser(self, channel: str) -> Parse:
        """The channel's parser of raw input; Conflict when it has none or is unknown."""
        ...

    async def ingest(self, channel: ChannelRef, messages: Sequence[InboundMessage]) -> list[IngestResult]: ...


@dataclass(frozen=True, slots=True)
class Held:
    item_id: int
    raw: bytes
    channel: ChannelRef


async def retry_item(ctx: Context, actor: Actor, item_id: int, node: Reingest) -> IngestResult:
    """Parse a held item again with its channel's adapter and ingest it."""
    held = await _held(ctx, item_id)
    parse = node.parser(held.channel.name)
    try:
        message = parse(held.raw)
    except ValueError as exc:
        await _failed(ctx, actor, held, f"retry failed: {exc}")
        raise Conflict(f"still cannot parse item {item_id}: {exc}") from None
    [result] = await node.ingest(held.channel, [message])
    if result.quarantined:
        await _failed(ctx, actor, held, None)
        raise Conflict(f"item {item_id} was quarantined again")

    def work(tx: Tx) -> None:
        _mark(tx, item_id, QuarantineItem.status == HELD, status="retried")
        details = {"ok": True, "message_id": result.message_id, "conversation_id": result.conversation_id}
        tx.audit("quarantine.retry", f"quarantine:{item_id}", details)

    await perform(ctx.db, ctx.bus, actor, work)
    return result


async def discard_item(ctx: Context, actor: Actor, item_id: int) -> None:
    """Throw a quarantined item away: its raw bytes go, the row stays as `deleted`."""

    def work(tx: Tx) -> None:
        name = tx.conn.scalar(
            select(Channel.name)
            .join(QuarantineItem, QuarantineItem.channel_id == Channel.id)
            .where(QuarantineItem.id == item_id, QuarantineItem.status != "deleted")
        )
        if name is None:
            raise NotFound.of("quarantine item")
        _mark(tx, item_id, QuarantineItem.status != "deleted", status="deleted", raw=b"")
        tx.audit("quarantine.delete", f"quarantine:{item_id}", {"channel": name})

    await perform(ctx.db, ctx.bus, actor, work)


async def _held(ctx: Context, item_id: int) -> Held:
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(QuarantineItem.status, QuarantineItem.raw, Channel.id, Channel.name, Channel.type)
                .join(Channel, Channel.id == QuarantineItem.channel_id)
                .where(QuarantineItem.id == item_id)
            )
        ).first()
    if row is None or row.status == "deleted":
        raise NotFound.of("quarantine item")
    if row.status != HELD:
        raise Conflict(f"quarantine item {item_id} is {row.status}, not held")
    return Held(item_id, row.raw, ChannelRef(row.id, row.name, row.type))


async def _failed(ctx: Context, actor: Actor, held: Held, error: str | None) -> None:
    """Note a failed retry on the item (the new error, if any) and in the audit log."""

    def work(tx: Tx) -> None:
        if error is not None:
            _mark(tx, held.item_id, QuarantineItem.status == HELD, error=error)
        tx.audit("quarantine.retry", f"quarantine:{held.item_id}", {"ok": False, "error": error or "quarantined again"})

    await perform(ctx.db, ctx.bus, actor, work)


def _mark(tx: Tx, item_id: int, condition: ColumnElement[bool], **values: object) -> None:
    tx.conn.execute(update(QuarantineItem).where(QuarantineItem.id == item_id, condition).values(**values))
