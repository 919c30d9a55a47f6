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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import nh3
from sqlalchemy import Connection, Table, bindparam, insert, or_, select, update

from channels.base import (
    InboundAttachment,
    InboundMessage,
    IngestResult,
    OutboundAttachment,
    Sender,
)
from inbox import events
from inbox.events import Bus
from inbox.pipeline import bounces, csat
from inbox.pipeline.dedup import Known, content_sha256, derived_external_id, differs
from inbox.pipeline.inbound_text import (
    MAX_EXTERNAL_ID,
    MAX_TEXT,
    normalise,
    problem_with,
    repair_text,
)
from inbox.pipeline.ingest_faults import describe, is_message_fault
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
    OrganizationDomain,
    QuarantineItem,
    Ticket,
    TicketRequest,
    utcnow,
)

log = logging.getLogger(__name__)

REOPEN_ON_CUSTOMER_MESSAGE = ("pending", "snoozed", "resolved")
MAX_MERGE_HOPS = 10

messages_t = cast(Table, Message.__table__)
contacts_t = cast(Table, Contact.__table__)
org_domains_t = cast(Table, OrganizationDomain.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
blobs_t = cast(Table, Blob.__table__)
attachments_t = cast(Table, Attachment.__table__)
tickets_t = cast(Table, Ticket.__table__)
ticket_requests_t = cast(Table, TicketRequest.__table__)
channels_t = cast(Table, Channel.__table__)
quarantine_t = cast(Table, QuarantineItem.__table__)

# The statements a batch runs, built once: SQLAlchemy memoises a statement's cache key,
# so a batch pays only for its parameters, not for building and hashing expressions (and
# coercing every IN value) again. An expanding IN takes any number of values.
MESSAGES_BY_EXTERNAL_ID = select(
    messages_t.c.external_id, messages_t.c.id, messages_t.c.conversation_id, messages_t.c.raw_sha256, messages_t.c.content_sha256
).where(messages_t.c.channel_id == bindparam("channel_id"), messages_t.c.external_id.in_(bindparam("external_ids", expanding=True)))
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
ORGANIZATIONS_BY_DOMAIN = select(org_domains_t.c.domain, org_domains_t.c.organization_id).where(
    org_domains_t.c.domain.in_(bindparam("domains", expanding=True))
)
CONVERSATIONS_BY_REFERENCE = (
    select(messages_t.c.external_id, messages_t.c.conversation_id, conversations_t.c.status)
    .join(conversations_t, conversations_t.c.id == messages_t.c.conversation_id)
    .where(messages_t.c.channel_id == bindparam("channel_id"), messages_t.c.external_id.in_(bindparam("references", expanding=True)))
)
CONVERSATIONS_BY_TICKET = (
    select(tickets_t.c.number, tickets_t.c.conversation_id, conversations_t.c.status, conversations_t.c.contact_id)
    .join(conversations_t, conversations_t.c.id == tickets_t.c.conversation_id)
    .where(tickets_t.c.number.in_(bindparam("numbers", expanding=True)))
)
OPEN_CONVERSATIONS_BY_THREAD = (
    select(conversations_t.c.thread_key, conversations_t.c.id, conversations_t.c.status)
    .where(
        conversations_t.c.channel_id == bindparam("channel_id"),
        conversations_t.c.thread_key.in_(bindparam("thread_keys", expanding=True)),
        # A merged conversation is resolved, but its thread still leads to the one it joined.
        or_(conversations_t.c.status != "resolved", conversations_t.c.merged_into_id.is_not(None)),
    )
    .order_by(conversations_t.c.id)
)
TOUCH_CONVERSATIONS = (
    update(conversations_t)
    .where(conversations_t.c.id.in_(bindparam("conversation_ids", expanding=True)))
    .values(last_message_at=bindparam("now"), updated_at=bindparam("now"))
)
REOPEN_CONVERSATIONS = TOUCH_CONVERSATIONS.values(status="open", snoozed_until=None, resolved_at=None)
CONVERSATIONS_MERGED_INTO = select(conversations_t.c.id, conversations_t.c.merged_into_id, conversations_t.c.status).where(
    conversations_t.c.id.in_(bindparam("ids", expanding=True))
)
CONTACTS_MERGED_INTO = select(contacts_t.c.id, contacts_t.c.merged_into_id).where(contacts_t.c.id.in_(bindparam("ids", expanding=True)))
PRESENT_BLOBS = select(blobs_t.c.sha256).where(blobs_t.c.sha256.in_(bindparam("hashes", expanding=True)))
HELD_QUARANTINE = select(quarantine_t.c.id).where(
    quarantine_t.c.channel_id == bindparam("channel_id"),
    quarantine_t.c.external_id == bindparam("external_id"),
    quarantine_t.c.status == "held",
)
# Conversations whose request waits for its approver: the customer writing does not take them out of pending.
AWAITING_APPROVAL = (
    select(tickets_t.c.conversation_id)
    .join(ticket_requests_t, ticket_requests_t.c.ticket_id == tickets_t.c.id)
    .where(tickets_t.c.conversation_id.in_(bindparam("conversation_ids", expanding=True)), ticket_requests_t.c.approval == "waiting")
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


def _raw_of(message: InboundMessage) -> bytes:
    """What quarantine keeps of a message: its original bytes, or all of it an admin needs."""
    if message.raw is not None:
        return message.raw
    summary = {
        "external_id": message.external_id,
        "sender": dataclasses.asdict(message.sender),
        "text": message.text[:MAX_TEXT],
        "subject": message.subject,
        "thread_key": message.thread_key,
        "references": list(message.references),
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": len(a.data)} for a in message.attachments],
        "kind": message.kind,
        "meta": message.meta,
    }
    # ASCII escapes keep even a lone surrogate readable as JSON.
    return json.dumps(summary, default=repr).encode()


class Ingestor:
    """The inbox as every adapter's sink: `ingest` a batch, `quarantine` what cannot be parsed.

    A batch is one transaction (group commit). If it fails for something a message holds,
    its messages are stored one by one and the one that still fails is quarantined with
    the error, so the adapter's cursor moves on and no message waits behind it. A database
    outage or a lost lease is not a message's fault: that raises, and the adapter retries.
    """

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
        # CPU work (repairing, sanitising, hashing) happens before the write transaction opens.
        prepared = [_Prepared.of(m) for m in messages]
        try:
            return await self._commit(_Batch(channel, prepared, cursor, self.router, fence))
        except Exception as exc:
            if not prepared or not is_message_fault(exc):
                raise
            if len(prepared) == 1:
                return [await self._quarantine_poison(channel, prepared[0].message, exc, cursor, fence)]
            log.warning(
                "channel %s: a batch of %d messages could not be stored (%s); storing them one by one",
                channel.name,
                len(prepared),
                describe(exc),
            )
        return await self._one_by_one(channel, prepared, cursor, fence)

    async def _commit(self, batch: _Batch) -> list[IngestResult]:
        await self.db.run(batch.run)
        if batch.max_seq:
            await self.bus.publish(batch.max_seq)
        return batch.outcome()

    async def _one_by_one(
        self, channel: ChannelRef, prepared: list[_Prepared], cursor: str | None, fence: Fence | None
    ) -> list[IngestResult]:
        results = []
        for i, item in enumerate(prepared):
            last = i == len(prepared) - 1
            try:
                [result] = await self._commit(_Batch(channel, [item], cursor if last else None, self.router, fence))
            except Exception as exc:
                if not is_message_fault(exc):
                    raise
                result = await self._quarantine_poison(channel, item.message, exc, cursor if last else None, fence)
            results.append(result)
        return results

    async def _quarantine_poison(
        self, channel: ChannelRef, message: InboundMessage, exc: BaseException, cursor: str | None, fence: Fence | None
    ) -> IngestResult:
        """Keep a message the store refuses, with why, and commit the cursor past it."""
        external_id = repair_text(message.external_id)[:MAX_EXTERNAL_ID] or None
        error = f"could not be stored: {describe(exc)}"
        log.warning("channel %s: message %r quarantined: %s", channel.name, (external_id or "")[:80], error)
        feed: Feed = []

        def work(conn: Connection) -> int:
            events.lock_writers(conn)
            if fence is not None:
                fence.check(conn)
            _quarantine(conn, channel, _raw_of(message), error, external_id, feed)
            if cursor is not None:
                conn.execute(SAVE_CURSOR, {"channel_id": channel.id, "new_cursor": cursor})
            return max(events.insert_events(conn, feed), default=0)

        seq = await self.db.run(work)
        if seq:
            await self.bus.publish(seq)
        return IngestResult(message.external_id, None, None, quarantined=True)

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
    raw_sha256: str | None = None
    content_sha256: str | None = None

    @classmethod
    def of(cls, original: InboundMessage) -> _Prepared:
        message = normalise(original)
        problem = problem_with(message)
        if problem is not None:
            return cls(message, problem, None)
        raw_hash = _sha256(message.raw) if message.raw is not None else None
        content_hash = content_sha256(message) if message.kind == "message" else None
        return cls(message, None, sanitise_html(message.html), raw_hash, content_hash)


@dataclass
class _Batch:
    """One ingest transaction: plan with a few reads, then write set-wise."""

    channel: ChannelRef
    prepared: list[_Prepared]
    cursor: str | None
    router: Router | None
    fence: Fence | None = None
    results: list[IngestResult | None] = field(default_factory=list)
    feed: Feed = field(default_factory=list)
    max_seq: int = 0

    def run(self, conn: Connection) -> None:
        self.results = [None] * len(self.prepared)
        self.feed = []
        events.lock_writers(conn)
        if self.fence is not None:
            self.fence.check(conn)
        fresh, changes, repeats = self._plan(conn)
        stored = self._store(conn, fresh)
        self._apply_changes(conn, changes)
        for i, item in enumerate(self.prepared):
            if item.problem is not None:
                message = item.message
                log.warning("channel %s: message %r quarantined: %s", self.channel.name, message.external_id[:80], item.problem)
                _quarantine(conn, self.channel, _raw_of(message), item.problem, message.external_id[:MAX_EXTERNAL_ID], self.feed)
                self.results[i] = IngestResult(message.external_id, None, None, quarantined=True)
        for i, first in repeats.items():
            earlier = self.results[first]
            assert earlier is not None
            self.results[i] = dataclasses.replace(earlier, duplicate=True)
        if self.router is not None and stored:
            self.router.route(conn, stored, self.feed)
        if self.cursor is not None:
            conn.execute(SAVE_CURSOR, {"channel_id": self.channel.id, "new_cursor": self.cursor})
        self.max_seq = max(events.insert_events(conn, self.feed), default=0)

    def outcome(self) -> list[IngestResult]:
        """One result per message, in the batch's order (after `run` committed)."""
        results = [r for r in self.results if r is not None]
        assert len(results) == len(self.prepared)
        return results

    # -- planning -------------------------------------------------------------------

    def _plan(self, conn: Connection) -> tuple[list[tuple[int, _Prepared]], list[tuple[int, InboundMessage]], dict[int, int]]:
        """New messages to store, edits and deletes to apply, and repeats within the batch
        (index -> index of the first). Duplicates of stored messages get their result here."""
        valid = [(i, p) for i, p in enumerate(self.prepared) if p.problem is None]
        messages = [(i, p) for i, p in valid if p.message.kind == "message"]
        known = self._known(conn, {p.message.external_id for _, p in messages})
        # Only an id already stored with other content, or repeated in this batch, may
        # need its derived form: looked up in a second read that the usual batch skips.
        counts = Counter(p.message.external_id for _, p in messages)
        derived = {
            derived_external_id(p.message.external_id, p.content_sha256 or "")
            for _, p in messages
            if counts[p.message.external_id] > 1 or (p.message.external_id in known and differs(known[p.message.external_id], p))
        }
        if derived:
            known.update(self._known(conn, derived))
        fresh: list[tuple[int, _Prepared]] = []
        changes: list[tuple[int, InboundMessage]] = []
        claimed: dict[str, int] = {}  # external id -> index of the message of this batch stored under it
        repeats: dict[int, int] = {}
        for i, item in valid:
            message = item.message
            if message.kind != "message":
                changes.append((i, message))
                continue
            key = message.external_id
            holder: Known | _Prepared | None = known.get(key) or (self.prepared[claimed[key]] if key in claimed else None)
            if holder is not None and differs(holder, item):
                key = derived_external_id(key, item.content_sha256 or "")
                log.info(
                    "channel %s: %r is already the id of another message; this one is stored as %r",
                    self.channel.name,
                    message.external_id[:80],
                    key,
                )
            if key in known:
                found = known[key]
                self.results[i] = IngestResult(key, found.message_id, found.conversation_id, duplicate=True)
            elif key in claimed:
                repeats[i] = claimed[key]
            else:
                claimed[key] = i
                fresh.append(
                    (
                        i,
                        item
                        if key == message.external_id
                        else dataclasses.replace(item, message=dataclasses.replace(message, external_id=key)),
                    )
                )
        return fresh, changes, repeats

    def _known(self, conn: Connection, external_ids: set[str]) -> dict[str, Known]:
        found: dict[str, Known] = {}
        for chunk in _chunks(sorted(external_ids)):
            rows = conn.execute(MESSAGES_BY_EXTERNAL_ID, {"channel_id": self.channel.id, "external_ids": chunk})
            found.update({r.external_id: Known(r.id, r.conversation_id, r.raw_sha256, r.content_sha256) for r in rows})
        return found

    # -- storing new messages ---------------------------------------------------------

    def _store(self, conn: Connection, fresh: list[tuple[int, _Prepared]]) -> list[NewMessage]:
        if not fresh:
            return []
        now = utcnow()
        messages = [p.message for _, p in fresh]
        contacts = _resolve_contacts(conn, self.channel, messages, now)
        bounced = bounces.find_bounced_replies(conn, messages)
        threads = self._resolve_conversations(conn, messages, contacts, bounced, now)
        _store_blobs(conn, [m.raw for m in messages if m.raw is not None])
        rows = [
            {
                "conversation_id": threads[n][0],
                "channel_id": self.channel.id,
                "external_id": m.external_id,
                "direction": "in",
                "author_type": "contact",
                "contact_id": contacts[m.sender.address],
                "subject": m.subject[:998] if m.subject else None,
                "text": m.text,
                "html": item.html,
                "delivery": "received",
                "automated": m.automated,
                "private": False,
                "meta": m.meta,
                "raw_sha256": item.raw_sha256,
                "content_sha256": item.content_sha256,
                "sent_at": m.sent_at,
                "created_at": now,
            }
            for n, ((_, item), m) in enumerate(zip(fresh, messages, strict=True))
        ]
        message_ids = insert_ids(conn, messages_t, rows)
        _store_attachments(conn, messages, message_ids)
        bounces.mark_failed(conn, list(bounced.values()), self.feed)
        stored = [
            NewMessage(message_ids[n], threads[n][0], threads[n][1], contacts[m.sender.address], m, self.channel)
            for n, m in enumerate(messages)
        ]
        for (i, _), item in zip(fresh, stored, strict=True):
            if item.conversation_is_new:
                self.feed.append(
                    ("conversation.created", {"conversation_id": item.conversation_id, "channel": self.channel.name}, item.conversation_id)
                )
            payload = {
                "message_id": item.message_id,
                "conversation_id": item.conversation_id,
                "channel": self.channel.name,
                "external_id": item.inbound.external_id,
                "direction": "in",
                "private": False,
            }
            self.feed.append(("message.created", payload, item.conversation_id))
            self.results[i] = IngestResult(item.inbound.external_id, item.message_id, item.conversation_id)
        return stored

    def _resolve_conversations(
        self,
        conn: Connection,
        messages: list[InboundMessage],
        contacts: dict[str, int],
        bounced: dict[int, bounces.BouncedReply],
        now: dt.datetime,
    ) -> list[tuple[int, bool]]:
        """For each message: (conversation id, created by this batch). Touches the existing ones.

        A bounce joins the reply it reports; then, in order, a reference to a stored
        message, a quoted ticket number (only from that ticket's own contact: anyone can
        write "[#12]" in a subject) and an open conversation of the same thread key.
        """
        status: dict[int, str] = {}
        by_reference = _conversations_by_reference(conn, self.channel, messages, status)
        by_ticket = _conversations_by_ticket(conn, messages, status)
        people = _people(conn, {*contacts.values(), *(owner for _, owner in by_ticket.values())}) if by_ticket else {}
        by_thread = _open_conversations_by_thread(conn, self.channel, messages, status)
        found_ids = {*by_reference.values(), *(c for c, _ in by_ticket.values()), *by_thread.values()}
        found_ids |= {b.conversation_id for b in bounced.values()}
        merged = _merge_targets(conn, found_ids, status)
        out: list[tuple[int, bool] | None] = []
        pending_new: dict[str, int] = {}
        to_create: list[dict[str, Any]] = []
        slots: list[int] = []
        for n, m in enumerate(messages):
            found = bounced[n].conversation_id if n in bounced else None
            if found is None:
                found = next((by_reference[r] for r in m.references if r in by_reference), None)
            if found is None and m.ticket_number is not None and m.ticket_number in by_ticket:
                ticket_conversation, owner = by_ticket[m.ticket_number]
                sender = contacts[m.sender.address]
                if people.get(owner, owner) == people.get(sender, sender):
                    found = ticket_conversation
                else:
                    log.info(
                        "channel %s: message %r quotes ticket #%d of another contact; it opens its own conversation",
                        self.channel.name,
                        m.external_id[:80],
                        m.ticket_number,
                    )
            if found is None and m.thread_key is not None:
                found = by_thread.get(m.thread_key)
            if found is not None:
                found = merged.get(found, found)
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
        """Bump activity on existing conversations; a customer writing again reopens them, except a
        pending one whose request waits for its approver (the wait is on the approver, not on them)."""
        existing = {cid for cid, new in resolved if not new}
        if not existing:
            return
        reopen = {
            cid
            for (cid, new), m in zip(resolved, messages, strict=True)
            if not new and not m.automated and status.get(cid) in REOPEN_ON_CUSTOMER_MESSAGE
        }
        waiting = sorted(cid for cid in reopen if status.get(cid) == "pending")
        if waiting:
            reopen -= {cid for chunk in _chunks(waiting) for cid in conn.scalars(AWAITING_APPROVAL, {"conversation_ids": chunk})}
        for statement, ids in ((REOPEN_CONVERSATIONS, sorted(reopen)), (TOUCH_CONVERSATIONS, sorted(existing - reopen))):
            for chunk in _chunks(ids):
                conn.execute(statement, {"conversation_ids": chunk, "now": now})
        csat.withdraw(conn, sorted(reopen))  # a survey of the resolution that no longer holds, not yet out
        for cid in sorted(reopen):
            self.feed.append(("conversation.updated", {"conversation_id": cid, "changes": {"status": "open"}}, cid))

    # -- edits and deletes ---------------------------------------------------------------

    def _apply_changes(self, conn: Connection, changes: list[tuple[int, InboundMessage]]) -> None:
        now = utcnow()
        for i, change in changes:
            target = conn.execute(MESSAGE_TO_CHANGE, {"channel_id": self.channel.id, "external_id": change.target_external_id}).first()
            if target is None:
                log.info("channel %s: %s of unknown message %r ignored", self.channel.name, change.kind, change.target_external_id)
                self.results[i] = IngestResult(change.external_id, None, None, duplicate=True)
                continue
            values: dict[str, Any]
            if change.kind == "edit":
                if change.text == target.text:
                    self.results[i] = IngestResult(change.external_id, target.id, target.conversation_id, duplicate=True)
                    continue
                values = {"text": change.text, "html": sanitise_html(change.html), "edited_at": now}
                if target.original_text is None:
                    values["original_text"] = target.text
            else:
                values = {"deleted_at": now}
            conn.execute(update(messages_t).where(messages_t.c.id == target.id).values(**values))
            payload = {"message_id": target.id, "conversation_id": target.conversation_id, "change": change.kind}
            self.feed.append(("message.updated", payload, target.conversation_id))
            self.results[i] = IngestResult(change.external_id, target.id, target.conversation_id)


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
        orgs = _organizations_by_domain(conn, channel, to_create)
        new_ids = insert_ids(
            conn,
            contacts_t,
            [
                {
                    "name": (s.name or s.username or s.address)[:255],
                    "email": s.email.lower()[:320] if s.email and s.verified else None,
                    "unverified_email": s.email.lower()[:320] if s.email and not s.verified else None,
                    "language": s.language,
                    "tags": [],
                    "created_at": now,
                    "organization_id": orgs.get(_domain_of(s.email)) if s.email and s.verified else None,
                }
                for s in to_create
            ],
        )
        for sender, new_id in zip(to_create, new_ids, strict=True):
            found[sender.address] = new_id
    conn.execute(
        insert(identities_t),
        [
            {"contact_id": found[s.address], "channel_id": channel.id, "address": s.address, "username": s.username, "created_at": now}
            for s in missing
        ],
    )
    return found


def _domain_of(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def _organizations_by_domain(conn: Connection, channel: ChannelRef, senders: list[Sender]) -> dict[str, int]:
    """Domain -> organization for the new contacts' verified addresses: only an email channel
    verifies one (the contact wrote from it); one look-up for the whole batch."""
    if channel.type != "email":
        return {}
    domains = sorted({_domain_of(s.email) for s in senders if s.email and s.verified and "@" in s.email})
    found: dict[str, int] = {}
    for chunk in _chunks(domains):
        found.update({r.domain: r.organization_id for r in conn.execute(ORGANIZATIONS_BY_DOMAIN, {"domains": chunk})})
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


def _conversations_by_ticket(conn: Connection, messages: list[InboundMessage], status: dict[int, str]) -> dict[int, tuple[int, int]]:
    """Ticket number -> (its conversation, that conversation's contact)."""
    numbers = sorted({m.ticket_number for m in messages if m.ticket_number is not None})
    if not numbers:
        return {}
    rows = conn.execute(CONVERSATIONS_BY_TICKET, {"numbers": numbers})
    found = {}
    for r in rows:
        found[r.number] = (r.conversation_id, r.contact_id)
        status[r.conversation_id] = r.status
    return found


def _people(conn: Connection, contact_ids: set[int]) -> dict[int, int]:
    """Contact id -> the contact it was merged into, followed to the end (itself if never merged)."""
    merged_into: dict[int, int | None] = {}
    wanted = set(contact_ids)
    for _ in range(MAX_MERGE_HOPS):
        if not wanted:
            break
        rows = conn.execute(CONTACTS_MERGED_INTO, {"ids": sorted(wanted)})
        merged_into.update({r.id: r.merged_into_id for r in rows})
        wanted = {m for m in merged_into.values() if m is not None and m not in merged_into}

    def final(contact_id: int) -> int:
        for _ in range(MAX_MERGE_HOPS):
            target = merged_into.get(contact_id)
            if target is None:
                break
            contact_id = target
        return contact_id

    return {c: final(c) for c in contact_ids}


def _merge_targets(conn: Connection, conversation_ids: set[int], status: dict[int, str]) -> dict[int, int]:
    """Conversation id -> the one it was merged into, followed to the end (only merged ones
    appear); the targets' statuses join `status`, so a customer writing again reopens them."""
    rows: dict[int, tuple[int | None, str]] = {}
    wanted = set(conversation_ids)
    for _ in range(MAX_MERGE_HOPS):
        if not wanted:
            break
        for r in conn.execute(CONVERSATIONS_MERGED_INTO, {"ids": sorted(wanted)}):
            rows[r.id] = (r.merged_into_id, r.status)
        wanted = {target for target, _ in rows.values() if target is not None and target not in rows}
    out: dict[int, int] = {}
    for cid in conversation_ids:
        final = cid
        for _ in range(MAX_MERGE_HOPS):
            target = rows.get(final, (None, ""))[0]
            if target is None:
                break
            final = target
        if final != cid:
            out[cid] = final
            status[final] = rows.get(final, (None, "open"))[1]
    return out


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
    error = repair_text(error)
    external_id = repair_text(external_id)[:MAX_EXTERNAL_ID] if external_id is not None else None
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
