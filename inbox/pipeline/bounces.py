"""Bounces of our own replies: the bounce joins the reply's conversation, the reply is failed.

The email adapter puts what a delivery status notification says on the bounce it hands
in, as plain JSON in `meta["bounce"]`:

    {"recipients": [{"address", "action", "status", "diagnostic"}, ...],
     "original_message_id": "<key@domain>" or None}

Our replies' Message-IDs are `<idempotency key@domain>` (channels/email_compose.py), a
relayed copy's `<key-relay@domain>`, so the outbox item, and through it the reply, is
found by its key whatever the message's external id is at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update

from channels.base import InboundMessage
from inbox.store.models import Message, OutboxItem

messages_t = cast(Table, Message.__table__)
outbox_t = cast(Table, OutboxItem.__table__)

REPLIES_BY_KEY = (
    select(outbox_t.c.idempotency_key, messages_t.c.id, messages_t.c.conversation_id)
    .join(messages_t, messages_t.c.id == outbox_t.c.message_id)
    .where(
        outbox_t.c.idempotency_key.in_(bindparam("keys", expanding=True)),
        messages_t.c.direction == "out",
    )
)
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    address: str
    status: str
    diagnostic: str


@dataclass(frozen=True, slots=True)
class BouncedReply:
    """One of our replies that a bounce in this batch reports."""

    message_id: int
    conversation_id: int
    failed: tuple[FailedRecipient, ...]  # empty when the report is only a delay or a success


def outbox_keys(original_message_id: str) -> list[str]:
    """The outbox keys a Message-ID of ours can stand for (none when it is not of our form)."""
    local, _, domain = original_message_id.strip().strip("<>").rpartition("@")
    if not local or not domain:
        return []
    keys = [local]
    if local.endswith("-relay"):
        keys.append(local.removesuffix("-relay"))
    return keys


def failed_recipients(report: dict[str, Any]) -> tuple[FailedRecipient, ...]:
    """Recipients the report says failed: action "failed", or no action and a 5.x.x status."""
    out = []
    for entry in report.get("recipients") or []:
        if not isinstance(entry, dict):
            continue
        action = str(entry.get("action") or "").lower()
        status = str(entry.get("status") or "")
        if action == "failed" or (not action and status.startswith("5")):
            out.append(FailedRecipient(str(entry.get("address") or "?"), status, str(entry.get("diagnostic") or "")))
    return tuple(out)


def _report(message: InboundMessage) -> dict[str, Any] | None:
    report = message.meta.get("bounce")
    if not isinstance(report, dict) or not isinstance(report.get("original_message_id"), str):
        return None
    return report


def find_bounced_replies(conn: Connection, messages: Sequence[InboundMessage]) -> dict[int, BouncedReply]:
    """Message index -> the reply of ours that the message (a bounce) reports."""
    wanted: dict[int, list[str]] = {}
    for i, message in enumerate(messages):
        report = _report(message)
        if report is not None:
            wanted[i] = outbox_keys(report["original_message_id"])
    keys = sorted({k for ks in wanted.values() for k in ks})
    if not keys:
        return {}
    rows = {r.idempotency_key: r for r in conn.execute(REPLIES_BY_KEY, {"keys": keys})}
    found: dict[int, BouncedReply] = {}
    for i, candidates in wanted.items():
        row = next((rows[k] for k in candidates if k in rows), None)
        if row is not None:
            report = _report(messages[i])
            assert report is not None
            found[i] = BouncedReply(row.id, row.conversation_id, failed_recipients(report))
    return found


def delivery_error(failed: Sequence[FailedRecipient]) -> str:
    """What the agent reads on the failed reply."""
    parts = []
    for r in failed:
        detail = " ".join(p for p in (r.status, r.diagnostic) if p)
        parts.append(f"{r.address}: {detail}" if detail else r.address)
    return ("bounced: " + "; ".join(parts))[:MAX_ERROR]


def mark_failed(
    conn: Connection,
    replies: Sequence[BouncedReply],
    feed: list[tuple[str, dict[str, Any], int | None]],
) -> None:
    """Record each reported failure on its reply, with the event the outbox writes for one."""
    for reply in replies:
        if not reply.failed:
            continue
        conn.execute(
            update(messages_t)
            .where(messages_t.c.id == reply.message_id)
            .values(delivery="failed", delivery_error=delivery_error(reply.failed))
        )
        payload = {
            "message_id": reply.message_id,
            "conversation_id": reply.conversation_id,
            "delivery": "failed",
        }
        feed.append(("message.updated", payload, reply.conversation_id))
