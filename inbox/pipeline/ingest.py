"""Inbound messages into the store: one transaction per batch, idempotent by construction.

`Ingestor.ingest()` dedups by (channel, external_id), resolves the contact through its
ContactIdentity, threads the message into a conversation, stores attachments and the
raw original, runs routing, appends events and commits the adapter's cursor — all in
one transaction. Only after the commit does the adapter hear back, so it may then
acknowledge its source.

The transaction is plain synchronous SQLAlchemy Core run through `Database.run` (one
thread hop on SQLite, the greenlet bridge on PostgreSQL), and set-based: a batch of N
messages costs a handful of statements, not N times a handful.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import nh3
from sqlalchemy import Connection, Table, bindparam, insert, select, update

from channels.base import (
    InboundAttachment,
    InboundMessage,
    IngestResult,
    OutboundAttachment,
    Sender,
)
from inbox import events
from inbox.events import Bus
from inbox.store.db import Database, insert_ids
from inbox.store.leases import Fence
from inbox.store.models import (
    Attachment,
    Blob,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    QuarantineItem,
    Ticket,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_EXTERNAL_ID = 512
MAX_ADDRESS = 320
MAX_TEXT = 1_000_000
REOPEN_ON_CUSTOMER_MESSAGE = ("pending", "snoozed", "resolved")

messages_t = cast(Table, Message.__table__)
contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
blobs_t = cast(Table, Blob.__table__)
attachments_t = cast(Table, Attachment.__table__)
tickets_t = cast(Table, Ticket.__table__)
channels_t = cast(Table, Channel.__table__)
quarantine_t = cast(Table, QuarantineItem.__table__)

# The statements a batch runs, built once: SQLAlchemy memoises a statement's cache key,
# so a batch pays only for its parameters, not for building and hashing expressions (and
# coercing every IN value) again. An expanding IN takes any number of values.
MESSAGES_BY_EXTERNAL_ID = select(messages_t.c.external_id, messages_t.c.id, messages_t.c.conversation_id).where(
    messages_t.c.channel_id == bindparam("channel_id"), messages_t.c.external_id.in_(bindparam("external_ids", expanding=True))
)
MESSAGE_TO_CHANGE = select(messages_t.c.id, messages_t.c.conversation_id, messages_t.c.text, messages_t.c.original_text).where(
    messages_t.c.channel_id == bindparam("channel_id"), messages_t.c.external_id == bindparam("external_id")
)
IDENTITIES_BY_ADDRESS = select(identities_t.c.address, identities_t.c.contact_id).where(
    identities_t.c.channel_id == bindparam("channel_id"), identities_t.c.address.in_(bindparam("addresses", expanding=True))
)
CONTACTS_BY_EMAIL = (
    select(contacts_t.c.email, contacts_t.c.id)
    .where(contacts_t.c.email.in_(bindparam("emails", expanding=True)), contacts_t.c.merged_into_id.is_(None))
    .order_by(contacts_t.c.id)
)
CONVERSATIONS_BY_REFERENCE = (
    select(messages_t.c.external_id, messages_t.c.conversation_id, conversations_t.c.status)
    .join(conversations_t, conversations_t.c.id == messages_t.c.conversation_id)
    .where(messages_t.c.channel_id == bindparam("channel_id"), messages_t.c.external_id.in_(bindparam("references", expanding=True)))
)
CONVERSATIONS_BY_TICKET = (
    select(tickets_t.c.number, tickets_t.c.conversation_id, conversations_t.c.status)
    .join(conversations_t, conversations_t.c.id == tickets_t.c.conversation_id)
    .where(tickets_t.c.number.in_(bindparam("numbers", expanding=True)))
)
OPEN_CONVERSATIONS_BY_THREAD = (
    select(conversations_t.c.thread_key, conversations_t.c.id, conversations_t.c.status)
    .where(
        conversations_t.c.channel_id == bindparam("channel_id"),
        conversations_t.c.thread_key.in_(bindparam("thread_keys", expanding=True)),
        conversations_t.c.status != "resolved",
    )
    .order_by(conversations_t.c.id)
)
TOUCH_CONVERSATIONS = (
    update(conversations_t)
    .where(conversations_t.c.id.in_(bindparam("conversation_ids", expanding=True)))
    .values(last_message_at=bindparam("now"), updated_at=bindparam("now"))
)
REOPEN_CONVERSATIONS = TOUCH_CONVERSATIONS.values(status="open", snoozed_until=None, resolved_at=None)
PRESENT_BLOBS = select(blobs_t.c.sha256).where(blobs_t.c.sha256.in_(bindparam("hashes", expanding=True)))
HELD_QUARANTINE = select(quarantine_t.c.id).where(
    quarantine_t.c.channel_id == bindparam("channel_id"), quarantine_t.c.external_id == bindparam("external_id"), quarantine_t.c.status == "held"
)
SAVE_CURSOR = update(channels_t).where(channels_t.c.id == bindparam("channel_id")).values(cursor=bindparam("new_cursor"))

Feed = list[tuple[str, dict[str, Any], int | None]]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    id: int
    name: str
    type: str


@dataclass(slots=True)
class NewMessage:
    """A message this batch stored, as routing sees it after insert."""

    message_id: int
    conversation_id: int
    conversation_is_new: bool
    contact_id: int
    inbound: InboundMessage
    channel: ChannelRef


class Router(Protocol):
    """Routing, run inside the ingest transaction after the messages are stored."""

    def route(self, conn: Connection, stored: Sequence[NewMessage], feed: Feed) -> None: ...


def sanitise_html(html: str | None) -> str | None:
    if not html:
        return None
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


def problem_with(message: InboundMessage) -> str | None:
    """Why a message cannot be stored as it is, or None."""
    if not message.external_id or len(message.external_id) > MAX_EXTERNAL_ID:
        return f"external_id must be 1..{MAX_EXTERNAL_ID} characters"
    if not message.sender.address or len(message.sender.address) > MAX_ADDRESS:
        return f"sender address must be 1..{MAX_ADDRESS} characters"
    if len(message.text) > MAX_TEXT:
        return f"text longer than {MAX_TEXT} characters"
    if message.kind != "message" and not message.target_external_id:
        return f"a {message.kind} needs target_external_id"
    return None


def _clean(value: str | None, limit: int | None = None) -> str | None:
    """No NUL (PostgreSQL text cannot hold it) and no more than the column takes."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    return value[:limit] if limit is not None else value


def _clean_key(value: str | None, limit: int = 255) -> str | None:
    """A lookup key too long for its column is hashed, never cut (cut keys could collide)."""
    value = _clean(value)
    if value is None or len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def normalise(message: InboundMessage) -> InboundMessage:
    """Make any adapter's message storable on both databases without changing its meaning."""
    if _storable_as_is(message):
        return message
    sender = message.sender
    return dataclasses.replace(
        message,
        external_id=_clean(message.external_id) or "",
        sender=dataclasses.replace(
            sender,
            address=_clean(sender.address) or "",
            name=_clean(sender.name, 255),
            email=_clean(sender.email, 320),
            username=_clean(sender.username, 255),
            language=_clean(sender.language, 16),
        ),
        text=_clean(message.text) or "",
        html=_clean(message.html),
        subject=_clean(message.subject, 998),
        thread_key=_clean_key(message.thread_key),
        references=tuple(r for r in (_clean(r) for r in message.references) if r),
        target_external_id=_clean(message.target_external_id),
        attachments=tuple(
            dataclasses.replace(a, filename=_clean(a.filename, 255) or "attachment", content_type=_clean(a.content_type, 255) or "application/octet-stream", content_id=_clean(a.content_id, 255))
            for a in message.attachments
        ),
        meta=_clean_json(message.meta),
    )


def _storable_as_is(message: InboundMessage) -> bool:
    """A cheap, conservative test for the usual message that `normalise` would not change:
    no NUL anywhere, nothing over its column's limit, no attachments. Rebuilding every
    message field by field was a fifth of the ingest's time."""
    sender = message.sender
    texts = [message.external_id, message.text, sender.address, *message.references]
    for value, limit in (
        (message.html, None),
        (message.subject, 998),
        (message.thread_key, 255),
        (message.target_external_id, None),
        (sender.name, 255),
        (sender.email, 320),
        (sender.username, 255),
        (sender.language, 16),
    ):
        if value is not None:
            if limit is not None and len(value) > limit:
                return False
            texts.append(value)
    if message.attachments or not all(message.references) or "\x00" in "".join(texts):
        return False
    return not message.meta or _clean_json(message.meta) == message.meta


def _raw_of(message: InboundMessage) -> bytes:
    if message.raw is not None:
        return message.raw
    summary = {"external_id": message.external_id, "sender": message.sender.address, "text": message.text[:10000]}
    return json.dumps(summary, ensure_ascii=False).encode()


class Ingestor:
    def __init__(self, db: Database, bus: Bus, router: Router | None = None) -> None:
        self.db = db
        self.bus = bus
        self.router = router

    async def ingest(
        self,
        channel: ChannelRef,
        messages: Sequence[InboundMessage],
        *,
        cursor: str | None = None,
        fence: Fence | None = None,
    ) -> list[IngestResult]:
        """Store the batch in one transaction. With a `fence`, refuse (LeaseLost) unless
        this node still holds the channel's receiver lease."""
        # CPU work (sanitising) happens before the write transaction opens.
        prepared = [_Prepared.of(m) for m in messages]
        batch = _Batch(channel, prepared, cursor, self.router, fence)
        await self.db.run(batch.run)
        if batch.max_seq:
            await self.bus.publish(batch.max_seq)
        return [batch.results[p.message.external_id] for p in prepared]

    async def quarantine(self, channel: ChannelRef, raw: bytes, error: str, external_id: str | None = None) -> None:
        log.warning("channel %s: input %r quarantined: %s", channel.name, (external_id or "")[:80], error)
        feed: Feed = []

        def work(conn: Connection) -> int:
            events.lock_writers(conn)
            _quarantine(conn, channel, raw, error, external_id, feed)
            return max(events.insert_events(conn, feed), default=0)

        seq = await self.db.run(work)
        if seq:
            await self.bus.publish(seq)

    async def cursor(self, channel: ChannelRef) -> str | None:
        async with self.db.read() as session:
            value: str | None = await session.scalar(select(channels_t.c.cursor).where(channels_t.c.id == channel.id))
            return value


@dataclass(frozen=True, slots=True)
class _Prepared:
    message: InboundMessage
    problem: str | None
    html: str | None

    @classmethod
    def of(cls, original: InboundMessage) -> _Prepared:
        message = normalise(original)
        problem = problem_with(message)
        return cls(message, problem, None if problem else sanitise_html(message.html))


@dataclass
class _Batch:
    """One ingest transaction: plan with a few reads, then write set-wise."""

    channel: ChannelRef
    prepared: list[_Prepared]
    cursor: str | None
    router: Router | None
    fence: Fence | None = None
    results: dict[str, IngestResult] = field(default_factory=dict)
    feed: Feed = field(default_factory=list)
    max_seq: int = 0

    def run(self, conn: Connection) -> None:
        events.lock_writers(conn)
        if self.fence is not None:
            self.fence.check(conn)
        fresh, changes = self._plan(conn)
        stored = self._store(conn, fresh)
        self._apply_changes(conn, changes)
        for item in self.prepared:
            if item.problem is not None:
                message = item.message
                log.warning("channel %s: message %r quarantined: %s", self.channel.name, message.external_id[:80], item.problem)
                _quarantine(conn, self.channel, _raw_of(message), item.problem, message.external_id[:MAX_EXTERNAL_ID], self.feed)
                self.results[message.external_id] = IngestResult(message.external_id, None, None, quarantined=True)
        if self.router is not None and stored:
            self.router.route(conn, stored, self.feed)
        if self.cursor is not None:
            conn.execute(SAVE_CURSOR, {"channel_id": self.channel.id, "new_cursor": self.cursor})
        self.max_seq = max(events.insert_events(conn, self.feed), default=0)

    # -- planning -------------------------------------------------------------------

    def _plan(self, conn: Connection) -> tuple[list[_Prepared], list[InboundMessage]]:
        valid = [p for p in self.prepared if p.problem is None]
        ids = list({p.message.external_id for p in valid if p.message.kind == "message"})
        existing: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(MESSAGES_BY_EXTERNAL_ID, {"channel_id": self.channel.id, "external_ids": chunk})
            existing.update({r.external_id: (r.id, r.conversation_id) for r in rows})
        fresh: list[_Prepared] = []
        changes: list[InboundMessage] = []
        seen: set[str] = set()
        for item in valid:
            message = item.message
            if message.kind != "message":
                changes.append(message)
            elif message.external_id in existing:
                message_id, conversation_id = existing[message.external_id]
                self.results[message.external_id] = IngestResult(message.external_id, message_id, conversation_id, duplicate=True)
            elif message.external_id not in seen:  # the same message twice in a batch: the first wins
                seen.add(message.external_id)
                fresh.append(item)
        return fresh, changes

    # -- storing new messages ---------------------------------------------------------

    def _store(self, conn: Connection, fresh: list[_Prepared]) -> list[NewMessage]:
        if not fresh:
            return []
        now = utcnow()
        messages = [p.message for p in fresh]
        contacts = _resolve_contacts(conn, self.channel, messages, now)
        threads = self._resolve_conversations(conn, messages, contacts, now)
        _store_blobs(conn, [m.raw for m in messages if m.raw is not None])
        rows = [
            {
                "conversation_id": threads[i][0],
                "channel_id": self.channel.id,
                "external_id": m.external_id,
                "direction": "in",
                "author_type": "contact",
                "contact_id": contacts[m.sender.address],
                "subject": m.subject[:998] if m.subject else None,
                "text": m.text,
                "html": fresh[i].html,
                "delivery": "received",
                "automated": m.automated,
                "private": False,
                "meta": m.meta,
                "raw_sha256": _sha256(m.raw) if m.raw is not None else None,
                "sent_at": m.sent_at,
                "created_at": now,
            }
            for i, m in enumerate(messages)
        ]
        message_ids = insert_ids(conn, messages_t, rows)
        _store_attachments(conn, messages, message_ids)
        stored = [
            NewMessage(message_ids[i], threads[i][0], threads[i][1], contacts[m.sender.address], m, self.channel)
            for i, m in enumerate(messages)
        ]
        for item in stored:
            if item.conversation_is_new:
                self.feed.append(("conversation.created", {"conversation_id": item.conversation_id, "channel": self.channel.name}, item.conversation_id))
            payload = {
                "message_id": item.message_id,
                "conversation_id": item.conversation_id,
                "channel": self.channel.name,
                "external_id": item.inbound.external_id,
                "direction": "in",
                "private": False,
            }
            self.feed.append(("message.created", payload, item.conversation_id))
            self.results[item.inbound.external_id] = IngestResult(item.inbound.external_id, item.message_id, item.conversation_id)
        return stored

    def _resolve_conversations(
        self, conn: Connection, messages: list[InboundMessage], contacts: dict[str, int], now: dt.datetime
    ) -> list[tuple[int, bool]]:
        """For each message: (conversation id, created by this batch). Touches the existing ones."""
        status: dict[int, str] = {}
        by_reference = _conversations_by_reference(conn, self.channel, messages, status)
        by_ticket = _conversations_by_ticket(conn, messages, status)
        by_thread = _open_conversations_by_thread(conn, self.channel, messages, status)
        out: list[tuple[int, bool] | None] = []
        pending_new: dict[str, int] = {}
        to_create: list[dict[str, Any]] = []
        slots: list[int] = []
        for m in messages:
            found = next((by_reference[r] for r in m.references if r in by_reference), None)
            if found is None and m.ticket_number is not None:
                found = by_ticket.get(m.ticket_number)
            if found is None and m.thread_key is not None:
                found = by_thread.get(m.thread_key)
            if found is not None:
                out.append((found, False))
                slots.append(-1)
                continue
            key = f"t:{m.thread_key}" if m.thread_key is not None else f"m:{m.external_id}"
            if key not in pending_new:
                pending_new[key] = len(to_create)
                to_create.append(
                    {
                        "channel_id": self.channel.id,
                        "contact_id": contacts[m.sender.address],
                        "thread_key": m.thread_key,
                        "subject": m.subject[:998] if m.subject else None,
                        "status": "open",
                        "tags": [],
                        "meta": m.meta,
                        "last_message_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            out.append(None)
            slots.append(pending_new[key])
        created: list[int] = []
        if to_create:
            created = insert_ids(conn, conversations_t, to_create)
        resolved: list[tuple[int, bool]] = []
        first_use: set[int] = set()
        for entry, slot in zip(out, slots, strict=True):
            if entry is not None:
                resolved.append(entry)
            else:
                cid = created[slot]
                resolved.append((cid, cid not in first_use))
                first_use.add(cid)
        self._touch(conn, messages, resolved, status, now)
        return resolved

    def _touch(
        self,
        conn: Connection,
        messages: list[InboundMessage],
        resolved: list[tuple[int, bool]],
        status: dict[int, str],
        now: dt.datetime,
    ) -> None:
        """Bump activity on existing conversations; a customer writing again reopens them."""
        existing = {cid for cid, new in resolved if not new}
        if not existing:
            return
        reopen = {
            cid
            for (cid, new), m in zip(resolved, messages, strict=True)
            if not new and not m.automated and status.get(cid) in REOPEN_ON_CUSTOMER_MESSAGE
        }
        for statement, ids in ((REOPEN_CONVERSATIONS, sorted(reopen)), (TOUCH_CONVERSATIONS, sorted(existing - reopen))):
            for chunk in _chunks(ids):
                conn.execute(statement, {"conversation_ids": chunk, "now": now})
        for cid in sorted(reopen):
            self.feed.append(("conversation.updated", {"conversation_id": cid, "changes": {"status": "open"}}, cid))

    # -- edits and deletes ---------------------------------------------------------------

    def _apply_changes(self, conn: Connection, changes: list[InboundMessage]) -> None:
        now = utcnow()
        for change in changes:
            target = conn.execute(MESSAGE_TO_CHANGE, {"channel_id": self.channel.id, "external_id": change.target_external_id}).first()
            if target is None:
                log.info("channel %s: %s of unknown message %r ignored", self.channel.name, change.kind, change.target_external_id)
                self.results[change.external_id] = IngestResult(change.external_id, None, None, duplicate=True)
                continue
            values: dict[str, Any]
            if change.kind == "edit":
                if change.text == target.text:
                    self.results[change.external_id] = IngestResult(change.external_id, target.id, target.conversation_id, duplicate=True)
                    continue
                values = {"text": change.text, "html": sanitise_html(change.html), "edited_at": now}
                if target.original_text is None:
                    values["original_text"] = target.text
            else:
                values = {"deleted_at": now}
            conn.execute(update(messages_t).where(messages_t.c.id == target.id).values(**values))
            payload = {"message_id": target.id, "conversation_id": target.conversation_id, "change": change.kind}
            self.feed.append(("message.updated", payload, target.conversation_id))
            self.results[change.external_id] = IngestResult(change.external_id, target.id, target.conversation_id)


# -- set-based lookups and writes ------------------------------------------------------


def _resolve_contacts(conn: Connection, channel: ChannelRef, messages: list[InboundMessage], now: dt.datetime) -> dict[str, int]:
    """address -> contact id, creating contacts and identities that are new."""
    senders: dict[str, Sender] = {m.sender.address: m.sender for m in messages}
    found: dict[str, int] = {}
    for chunk in _chunks(list(senders)):
        rows = conn.execute(IDENTITIES_BY_ADDRESS, {"channel_id": channel.id, "addresses": chunk})
        found.update({r.address: r.contact_id for r in rows})
    missing = [senders[a] for a in senders if a not in found]
    if not missing:
        return found
    # A verified email address known from another channel means the same person.
    emails = sorted({s.email.lower() for s in missing if s.email and s.verified})
    by_email: dict[str, int] = {}
    for chunk in _chunks(emails):
        rows = conn.execute(CONTACTS_BY_EMAIL, {"emails": chunk})
        for r in rows:
            by_email.setdefault(r.email, r.id)
    to_create = []
    for sender in missing:
        email = sender.email.lower() if sender.email and sender.verified else None
        if email and email in by_email:
            found[sender.address] = by_email[email]
        else:
            to_create.append(sender)
    if to_create:
        new_ids = insert_ids(
            conn,
            contacts_t,
            [
                {
                    "name": s.name or s.username or s.address,
                    "email": s.email.lower() if s.email and s.verified else None,
                    "language": s.language,
                    "tags": [],
                    "created_at": now,
                }
                for s in to_create
            ],
        )
        for sender, new_id in zip(to_create, new_ids, strict=True):
            found[sender.address] = new_id
    conn.execute(
        insert(identities_t),
        [{"contact_id": found[s.address], "channel_id": channel.id, "address": s.address, "username": s.username, "created_at": now} for s in missing],
    )
    return found


def _conversations_by_reference(
    conn: Connection, channel: ChannelRef, messages: list[InboundMessage], status: dict[int, str]
) -> dict[str, int]:
    refs = sorted({r for m in messages for r in m.references})
    found: dict[str, int] = {}
    for chunk in _chunks(refs):
        rows = conn.execute(CONVERSATIONS_BY_REFERENCE, {"channel_id": channel.id, "references": chunk})
        for r in rows:
            found[r.external_id] = r.conversation_id
            status[r.conversation_id] = r.status
    return found


def _conversations_by_ticket(conn: Connection, messages: list[InboundMessage], status: dict[int, str]) -> dict[int, int]:
    numbers = sorted({m.ticket_number for m in messages if m.ticket_number is not None})
    if not numbers:
        return {}
    rows = conn.execute(CONVERSATIONS_BY_TICKET, {"numbers": numbers})
    found = {}
    for r in rows:
        found[r.number] = r.conversation_id
        status[r.conversation_id] = r.status
    return found


def _open_conversations_by_thread(
    conn: Connection, channel: ChannelRef, messages: list[InboundMessage], status: dict[int, str]
) -> dict[str, int]:
    keys = sorted({m.thread_key for m in messages if m.thread_key is not None})
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(OPEN_CONVERSATIONS_BY_THREAD, {"channel_id": channel.id, "thread_keys": chunk})
        for r in rows:  # the newest open one wins
            found[r.thread_key] = r.id
            status[r.id] = r.status
    return found


def _store_blobs(conn: Connection, payloads: list[bytes]) -> None:
    by_hash = {_sha256(p): p for p in payloads}
    if not by_hash:
        return
    present: set[str] = set()
    for chunk in _chunks(sorted(by_hash)):
        present.update(conn.scalars(PRESENT_BLOBS, {"hashes": chunk}))
    missing = [{"sha256": h, "size": len(p), "data": p} for h, p in by_hash.items() if h not in present]
    if missing:
        conn.execute(insert(blobs_t), missing)


def _store_attachments(conn: Connection, messages: list[InboundMessage], message_ids: list[int]) -> None:
    store_attachments(conn, [(message_ids[i], a) for i, m in enumerate(messages) for a in m.attachments])


def store_attachments(conn: Connection, pairs: Sequence[tuple[int, InboundAttachment | OutboundAttachment]]) -> None:
    """Files of stored messages, as (message id, file) pairs; their bytes are stored once."""
    if not pairs:
        return
    _store_blobs(conn, [a.data for _, a in pairs])
    conn.execute(
        insert(attachments_t),
        [
            {
                "message_id": mid,
                "filename": (a.filename or "attachment")[:255],
                "content_type": (a.content_type or "application/octet-stream")[:255],
                "size": len(a.data),
                "sha256": _sha256(a.data),
                "inline": getattr(a, "inline", False),
                "content_id": getattr(a, "content_id", None),
            }
            for mid, a in pairs
        ],
    )


def _quarantine(conn: Connection, channel: ChannelRef, raw: bytes, error: str, external_id: str | None, feed: Feed) -> None:
    if external_id is not None:
        already = conn.scalar(HELD_QUARANTINE, {"channel_id": channel.id, "external_id": external_id})
        if already is not None:
            return
    item_id = conn.execute(
        insert(quarantine_t)
        .values(channel_id=channel.id, external_id=external_id, error=error[:10000], raw=raw, status="held", created_at=utcnow())
        .returning(quarantine_t.c.id)
    ).scalar_one()
    feed.append(("quarantine.created", {"id": item_id, "channel": channel.name, "error": error[:500]}, None))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
