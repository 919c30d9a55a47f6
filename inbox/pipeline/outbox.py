"""The outbox worker: claims due sends, calls the channel, records the outcome.

A claim is a lease: rows move to `sending` with `claimed_until`; a worker that dies
leaves a lease that expires and another worker takes the row over. On PostgreSQL the
claim uses `FOR UPDATE SKIP LOCKED`, so two workers never take the same row; on SQLite
the single writer gives the same guarantee. Outcomes are written only by the lease
holder (fencing by `claimed_by`).

A send is marked "in flight" (`dispatched_at`, committed) by the adapter right before the
request that can deliver it (`OutboundMessage.dispatch`). A lease that expires on a send
never dispatched is sent again: nothing went out. One that expires on a dispatched send
is in doubt, and the channel's `in_doubt` decides: "resend" (the receiver tells a repeat:
the same Message-ID, the same spool file), "look" (the adapter looks for its own message
first: Slack's metadata) or "hold" (Telegram: no idempotency key, no reading back): never
sent again, recorded as "unknown" for an agent to see. So no channel ever delivers twice
to the reader; only a hold channel's send caught in flight can end without a known outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, ScalarSelect, Select, bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from channels.base import (
    Channel,
    CsatAsk,
    DeliveryUnknown,
    OutboundAttachment,
    OutboundButton,
    OutboundMessage,
    PermanentSendError,
    Recipient,
    SendResult,
    SupportsRelay,
    TransientSendError,
    cancel_task,
)
from inbox import events, metrics
from inbox.config import OutboxConfig
from inbox.events import Bus
from inbox.pipeline.replies import continue_by_email, latest_inbound_meta
from inbox.store.db import Database
from inbox.store.models import (
    Agent,
    Attachment,
    Blob,
    Contact,
    ContactIdentity,
    Conversation,
    CsatSurvey,
    DirectMail,
    Message,
    OutboxItem,
    Ticket,
    utcnow,
)
from inbox.store.models import (
    Channel as ChannelRow,
)
from routing import csat as csat_text

log = logging.getLogger(__name__)

IN_DOUBT = "the send was in flight and its outcome is unknown; this channel cannot tell whether it arrived, so it is not sent again"


# The two kinds of due row, each in the order its partial index (migration 0025) keeps
# per channel: a send whose lease expired (its worker stopped: taken first, they are few
# and the oldest), and a pending send whose time has come. Each kind is asked for on its
# own and one channel at a time, with its status written into the SQL (not bound): a planner
# reads a partial index only where it can see the query's status is the index's (a prepared
# statement's generic plan on PostgreSQL cannot). Asked for both kinds, or several channels,
# at once, with a LIMIT, PostgreSQL takes a status and a channel as independent, expects a
# due row soon and scans the table from the start: through every sent row when none is due.
_DUE_KINDS = (
    (
        (OutboxItem.status == literal_column("'sending'")) & (OutboxItem.claimed_until < bindparam("now")),
        (OutboxItem.claimed_until, OutboxItem.id),
    ),
    (
        (OutboxItem.status == literal_column("'pending'")) & (OutboxItem.next_attempt_at <= bindparam("now")),
        (OutboxItem.next_attempt_at, OutboxItem.id),
    ),
)


def _first_due(due: ColumnElement[bool], order: tuple[Any, ...], *also: ColumnElement[bool]) -> ScalarSelect[int]:
    """The id of the first row of one kind that is due (and `also` holds), in its index's order."""
    return select(OutboxItem.id).where(due, *also).order_by(order[0]).limit(1).scalar_subquery()


@functools.cache
def _firsts_due(channels: int) -> Select[*tuple[int | None, ...]]:
    """One row: for each of `channels` channels (bound as `channel_0`, `channel_1`, ...) and
    each kind, the id of its first due row (None: none). Every commit of the desk wakes the
    worker to ask, so the statement is built once per number of channels; each answer is the
    first entry of an index, or the lack of one."""
    return select(
        *(_first_due(due, order, OutboxItem.channel_id == bindparam(f"channel_{n}")) for n in range(channels) for due, order in _DUE_KINDS)
    )


# The same question for a worker that sends on every channel (tools and tests).
_ANY_DUE = select(func.coalesce(*(_first_due(due, order) for due, order in _DUE_KINDS)))


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    message_id: int | None  # None: a direct mail (`mail_id`), outside any conversation
    channel_id: int
    idempotency_key: str
    attempts: int
    mail_id: int | None = None
    survey_id: int | None = None
    # An earlier attempt was dispatched (its request may have reached the channel) ...
    dispatched: bool = False
    # ... and its outcome was never recorded: its lease expired (the daemon stopped).
    unfinished: bool = False

    @property
    def in_doubt(self) -> bool:
        return self.dispatched and self.unfinished


class Withdrawn(Exception):
    """A survey whose resolution no longer holds when it comes due (docs/csat.md)."""


def backoff(attempts: int, config: OutboxConfig) -> float:
    """Seconds before attempt `attempts + 1`: base * 2^(attempts-1), capped."""
    return float(min(config.base_delay * (2 ** max(attempts - 1, 0)), config.max_delay))


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        channel_for: Callable[[int], Channel | None],
        config: OutboxConfig,
        *,
        worker_id: str | None = None,
        channel_ids: Callable[[], list[int]] | None = None,
        channel_named: Callable[[str], Channel | None] | None = None,
        portal_url: Callable[[int], str] | None = None,
        csat_url: Callable[[int, dt.datetime], tuple[str, str]] | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.channel_for = channel_for
        self.config = config
        self.worker_id = worker_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Restrict claims to channels this node can send on (None: all).
        self.channel_ids = channel_ids
        # For relays: a channel that asks for a copy on another channel (a widget
        # conversation continued by email) names it; None: no relays.
        self.channel_named = channel_named
        # The contact's signed "View your requests" link, for e-mail footers (None: none).
        self.portal_url = portal_url
        # A satisfaction survey's signed token and rating page (None: surveys fail to send).
        self.csat_url = csat_url
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._turn = 0  # which of the channels with due sends a claim starts at

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox:{self.worker_id}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def run(self) -> None:
        seen = 0
        while True:
            try:
                claimed = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox claim failed; retrying")
                claimed = 0
                await asyncio.sleep(1.0)
            if claimed == 0:
                seen = await self.bus.wait(seen, 1.0)

    async def drain_once(self) -> int:
        """Claim what is due and send it with bounded concurrency. Returns the count."""
        free = self.config.concurrency - len(self._inflight)
        if free <= 0:
            await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
            return 1
        claims = await self.claim(free)
        for claim in claims:
            task = asyncio.create_task(self.process(claim), name=f"outbox-send:{claim.id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(claims)

    async def claim(self, limit: int) -> list[Claim]:
        """Mark up to `limit` due items as ours for a lease; one short write transaction."""
        now = utcnow()
        channel_ids = self.channel_ids() if self.channel_ids is not None else None
        lease = dt.timedelta(seconds=self.config.lease_seconds)
        worker_id = self.worker_id

        if channel_ids is not None and not channel_ids:
            # No channel runs on this node (none configured, or every one failed to start):
            # nothing here can be sent, and asking would walk every item waiting for the
            # channels elsewhere on every commit (a backlog of thousands: a millisecond each).
            return []
        # Most wake-ups (every commit wakes us) find nothing due: a read says so without
        # taking SQLite's one write turn from the writers that have real work. It also says
        # what to claim: each channel with sends due, and which kinds (`_DUE_KINDS` indexes).
        due_on: list[tuple[int | None, list[int]]]
        if channel_ids is None:
            due_on = [(None, list(range(len(_DUE_KINDS))))]
            if await self.db.query_core(lambda conn: conn.scalar(_ANY_DUE, {"now": now})) is None:
                return []
        else:
            asked = {"now": now} | {f"channel_{n}": channel_id for n, channel_id in enumerate(channel_ids)}
            firsts = await self.db.query_core(lambda conn: conn.execute(_firsts_due(len(channel_ids)), asked).one())
            kinds = len(_DUE_KINDS)
            due_on = [
                (channel_id, due_kinds)
                for n, channel_id in enumerate(channel_ids)
                if (due_kinds := [k for k in range(kinds) if firsts[n * kinds + k] is not None])
            ]
            if not due_on:
                return []
            # Each claim starts at the next channel: a long backlog on one (a broadcast) does
            # not hold back the replies of the others.
            self._turn += 1
            start = self._turn % len(due_on)
            due_on = due_on[start:] + due_on[:start]

        def work(conn: Connection) -> list[Claim]:
            # What each row was before the claim: a lease that expired on a dispatched send
            # leaves it in doubt (see the module's docstring).
            before: list[Row[int, str, dt.datetime | None]] = []
            for channel_id, due_kinds in due_on:
                for due, order in (_DUE_KINDS[k] for k in due_kinds):
                    room = limit - len(before)
                    if room <= 0:
                        break
                    kind = select(OutboxItem.id, OutboxItem.status, OutboxItem.dispatched_at).where(due)
                    if channel_id is not None:
                        kind = kind.where(OutboxItem.channel_id == channel_id)
                    before += conn.execute(kind.order_by(*order).limit(room).with_for_update(skip_locked=True), {"now": now}).all()
            if not before:
                return []
            result = conn.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_([row.id for row in before]))
                .values(status="sending", claimed_by=worker_id, claimed_until=now + lease, attempts=OutboxItem.attempts + 1)
                .returning(
                    OutboxItem.id,
                    OutboxItem.message_id,
                    OutboxItem.channel_id,
                    OutboxItem.idempotency_key,
                    OutboxItem.attempts,
                    OutboxItem.mail_id,
                    OutboxItem.survey_id,
                )
            )
            was = {row.id: row for row in before}
            return [
                Claim(*row, dispatched=was[row.id].dispatched_at is not None, unfinished=was[row.id].status == "sending") for row in result
            ]

        return await self.db.run(work)

    async def process(self, claim: Claim) -> None:
        channel = self.channel_for(claim.channel_id)
        if channel is None:
            await self._reschedule(claim, "channel is not running on this node", delay=5.0, count_attempt=False)
            return
        if claim.in_doubt and channel.in_doubt == "hold":
            log.warning("outbox %s: in flight on channel %s when the daemon stopped; not sent again", claim.id, channel.name)
            await self._unknown(claim, IN_DOUBT)
            return
        try:
            outbound = await self._outbound(claim)
        except Withdrawn:
            await self._withdraw(claim)
            return
        except LookupError as exc:
            await self._fail(claim, str(exc))
            return
        went_out = False

        async def dispatch() -> None:
            nonlocal went_out
            await self._dispatch(claim)
            went_out = True

        outbound = replace(outbound, in_doubt=claim.dispatched and channel.in_doubt == "look", dispatch=dispatch)
        try:
            result = await channel.send(outbound)
            await self._relay(channel, outbound)
        except DeliveryUnknown as exc:
            log.warning("outbox %s: outcome unknown on channel %s: %s; not sent again", claim.id, channel.name, exc)
            await self._unknown(claim, f"{exc}: {IN_DOUBT}")
        except PermanentSendError as exc:
            log.warning("outbox %s: permanent failure on channel %s: %s", claim.id, channel.name, exc)
            await self._fail(claim, str(exc))
        except TransientSendError as exc:
            log.info("outbox %s: transient failure on channel %s: %s", claim.id, channel.name, exc)
            # A transient error is the adapter's word that nothing was delivered: the next
            # attempt is not in doubt (but a "look" channel looks anyway: it costs a read).
            settled = channel.in_doubt != "look"
            if exc.count_attempt:
                await self._retry_or_fail(claim, str(exc), exc.retry_after, settled=settled)
            else:
                await self._reschedule(claim, str(exc), delay=exc.retry_after or 1.0, count_attempt=False, settled=settled)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("outbox %s: unexpected failure on channel %s", claim.id, channel.name)
            if went_out and channel.in_doubt == "hold":  # after its request: it may have arrived
                await self._unknown(claim, f"{type(exc).__name__}: {exc}: {IN_DOUBT}")
            else:
                await self._retry_or_fail(claim, f"{type(exc).__name__}: {exc}", None)
        else:
            await self._sent(claim, result)

    async def _relay(self, channel: Channel, outbound: OutboundMessage) -> None:
        """Send the copy a channel asks for (e.g. a widget reply to a visitor who left
        for email). Raising retries the whole item; the first send is idempotent there."""
        wanted = channel.relay_target(outbound) if isinstance(channel, SupportsRelay) and self.channel_named is not None else None
        if wanted is None:
            return
        name, recipient = wanted
        assert self.channel_named is not None
        other = self.channel_named(name)
        if other is None:
            raise TransientSendError(f"relay channel {name!r} is not running on this node")
        await other.send(replace(outbound, idempotency_key=f"{outbound.idempotency_key}-relay", recipient=recipient))

    async def _dispatch(self, claim: Claim) -> None:
        """The "in flight" mark, committed before the request goes out (fenced)."""

        def work(conn: Connection) -> bool:
            marked = conn.execute(
                update(OutboxItem)
                .where(OutboxItem.id == claim.id, OutboxItem.claimed_by == self.worker_id, OutboxItem.status == "sending")
                .values(dispatched_at=utcnow())
                .returning(OutboxItem.id)
            )
            return marked.first() is not None

        if not await self.db.run(work):
            raise TransientSendError("the lease on this send was lost: another worker has it", count_attempt=False)

    # -- outcomes -------------------------------------------------------------------

    async def _sent(self, claim: Claim, result: SendResult) -> None:
        now = utcnow()

        def work(conn: Connection) -> int:
            if not self._release(conn, claim, status="sent", sent_at=now, last_error=None):
                return 0
            if claim.survey_id is not None:
                return self._asked(conn, claim.survey_id)
            if claim.message_id is None:
                return 0
            values: dict[str, object] = {"delivery": "sent", "sent_at": now, "delivery_error": None}
            if result.external_id:
                clash = conn.scalar(
                    select(Message.id).where(Message.channel_id == claim.channel_id, Message.external_id == result.external_id)
                )
                if clash is None:
                    values["external_id"] = result.external_id
            if result.meta:
                values["meta"] = result.meta
            return self._update_message(conn, claim, values)

        await self._write(work)
        metrics.OUTBOX_SENT.inc()

    def _asked(self, conn: Connection, survey_id: int) -> int:
        """The survey's question went out: its `csat.requested` event (the widget shows its stars from it)."""
        row = conn.execute(
            select(CsatSurvey.conversation_id, ChannelRow.name)
            .join(ChannelRow, ChannelRow.id == CsatSurvey.channel_id)
            .where(CsatSurvey.id == survey_id)
        ).first()
        if row is None:
            return 0
        events.lock_writers(conn)
        payload = {"conversation_id": row.conversation_id, "survey_id": survey_id, "channel": row.name}
        [seq] = events.insert_events(conn, [("csat.requested", payload, row.conversation_id)])
        return seq

    async def _withdraw(self, claim: Claim) -> None:
        """The conversation was reopened before its survey went out: the survey and its item go."""

        def work(conn: Connection) -> int:
            gone = conn.execute(
                delete(OutboxItem)
                .where(OutboxItem.id == claim.id, OutboxItem.claimed_by == self.worker_id, OutboxItem.status == "sending")
                .returning(OutboxItem.id)
            ).first()
            if gone is not None and claim.survey_id is not None:
                conn.execute(delete(CsatSurvey).where(CsatSurvey.id == claim.survey_id, CsatSurvey.rated_at.is_(None)))
            return 0

        await self._write(work)
        log.info("outbox %s: survey %s withdrawn, its conversation is no longer resolved", claim.id, claim.survey_id)

    async def _retry_or_fail(self, claim: Claim, error: str, retry_after: float | None, *, settled: bool = False) -> None:
        if claim.attempts >= self.config.max_attempts:
            await self._fail(claim, f"gave up after {claim.attempts} attempts: {error}")
            return
        delay = retry_after if retry_after is not None else backoff(claim.attempts, self.config)
        await self._reschedule(claim, error, delay=delay, settled=settled)

    async def _reschedule(self, claim: Claim, error: str, *, delay: float, count_attempt: bool = True, settled: bool = False) -> None:
        """Try again later. `settled`: the attempt surely delivered nothing, so its "in
        flight" mark is cleared (a kill before the next attempt's request is then no doubt)."""
        values: dict[str, object] = {
            "status": "pending",
            "next_attempt_at": utcnow() + dt.timedelta(seconds=delay),
            "last_error": error[:2000],
            "claimed_by": None,
            "claimed_until": None,
        }
        if not count_attempt:
            values["attempts"] = OutboxItem.attempts - 1
        if settled:
            values["dispatched_at"] = None

        def work(conn: Connection) -> int:
            conn.execute(update(OutboxItem).where(OutboxItem.id == claim.id, OutboxItem.claimed_by == self.worker_id).values(**values))
            return 0

        await self._write(work)
        metrics.OUTBOX_RETRIED.inc()

    async def _fail(self, claim: Claim, error: str) -> None:
        def work(conn: Connection) -> int:
            if not self._release(conn, claim, status="failed", last_error=error[:2000]):
                return 0
            if claim.message_id is None:
                return 0
            return self._update_message(conn, claim, {"delivery": "failed", "delivery_error": error[:2000]})

        await self._write(work)
        metrics.OUTBOX_FAILED.inc()

    async def _unknown(self, claim: Claim, error: str) -> None:
        """A send that may or may not have arrived, on a channel that cannot tell: never
        repeated (a repeat could deliver it twice); the agent sees "unknown"."""

        def work(conn: Connection) -> int:
            if not self._release(conn, claim, status="unknown", last_error=error[:2000]):
                return 0
            if claim.message_id is None:
                return 0
            return self._update_message(conn, claim, {"delivery": "unknown", "delivery_error": error[:2000]})

        await self._write(work)
        metrics.OUTBOX_UNKNOWN.inc()

    async def _write(self, work: Callable[[Connection], int]) -> None:
        """One short write transaction; wake listeners with the event it wrote, if any."""
        seq = await self.db.run(work)
        if seq:
            await self.bus.publish(seq)

    def _release(self, conn: Connection, claim: Claim, **values: object) -> bool:
        result = conn.execute(
            update(OutboxItem)
            .where(OutboxItem.id == claim.id, OutboxItem.claimed_by == self.worker_id, OutboxItem.status == "sending")
            .values(claimed_until=None, **values)
            .returning(OutboxItem.id)
        )
        if result.first() is None:
            log.warning("outbox %s: lease lost before the outcome was recorded", claim.id)
            return False
        return True

    def _update_message(self, conn: Connection, claim: Claim, values: dict[str, object]) -> int:
        """Record the outcome on the message and write its `message.updated` event."""
        conversation_id, send_at = conn.execute(
            select(Message.conversation_id, Message.send_at).where(Message.id == claim.message_id)
        ).one()
        conn.execute(update(Message).where(Message.id == claim.message_id).values(**values))
        events.lock_writers(conn)
        payload: dict[str, object] = {"message_id": claim.message_id, "conversation_id": conversation_id, "delivery": values["delivery"]}
        if send_at is not None:  # a scheduled reply: the widget gateway shows it from now on
            payload["scheduled"] = True
        [seq] = events.insert_events(conn, [("message.updated", payload, conversation_id)])
        return seq

    # -- building the outbound message --------------------------------------------------

    async def _direct(self, mail_id: int | None, claim: Claim) -> OutboundMessage:
        async with self.db.read() as session:
            mail = await session.get(DirectMail, mail_id) if mail_id is not None else None
        if mail is None:
            raise LookupError(f"outbox item {claim.id} has neither a message nor a mail")
        return OutboundMessage(
            idempotency_key=claim.idempotency_key,
            recipient=Recipient(address=mail.address, name=mail.name, email=mail.address, language=mail.language),
            text=mail.text,
            subject=mail.subject,
            standalone=True,
        )

    async def _survey(self, survey_id: int, claim: Claim) -> OutboundMessage:
        """A satisfaction survey's question, to the customer on the conversation's channel
        and in its thread; e-mail carries the five rating links in its text."""
        if self.csat_url is None:
            raise LookupError("satisfaction surveys are not set up on this node")
        async with self.db.read() as session:
            survey = await session.get(CsatSurvey, survey_id)
            conversation = await session.get(Conversation, survey.conversation_id) if survey is not None else None
            if survey is None or conversation is None or survey.contact_id is None:
                raise LookupError(f"survey {survey_id} is gone")
            if conversation.status != "resolved" or conversation.merged_into_id is not None:
                raise Withdrawn(survey_id)
            contact = await session.get(Contact, survey.contact_id)
            identity = await session.scalar(
                select(ContactIdentity)
                .where(ContactIdentity.contact_id == survey.contact_id, ContactIdentity.channel_id == survey.channel_id)
                .order_by(ContactIdentity.id)
            )
            if identity is None or contact is None:
                raise LookupError(f"contact of conversation {conversation.id} has no address on this channel")
            thread = (
                await session.scalars(
                    select(Message.external_id)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.channel_id == survey.channel_id,
                        Message.private.is_(False),
                        or_(Message.direction == "in", Message.delivery == "sent"),
                    )
                    .order_by(Message.id)
                )
            ).all()
            ticket_number = await session.scalar(select(Ticket.number).where(Ticket.conversation_id == conversation.id).order_by(Ticket.id))
            channel_type = await session.scalar(select(ChannelRow.type).where(ChannelRow.id == survey.channel_id))
        token, url = self.csat_url(survey_id, survey.expires_at)
        language = survey.language if survey.language in csat_text.QUESTION else "en"
        ask = CsatAsk(token=token, url=url, question=csat_text.QUESTION[language], labels=csat_text.LABELS[language], language=language)
        text = csat_text.email_text(language, url) if channel_type == "email" else ask.question
        return OutboundMessage(
            idempotency_key=claim.idempotency_key,
            recipient=Recipient(address=identity.address, name=contact.name, email=contact.email, language=contact.language),
            text=text,
            subject=conversation.subject,
            thread_key=conversation.thread_key,
            references=tuple(r for r in thread if r),
            in_reply_to=thread[-1] if thread else None,
            conversation_meta=dict(conversation.meta or {}),
            ticket_number=ticket_number,
            portal_url=self.portal_url(contact.merged_into_id or contact.id)
            if self.portal_url is not None and channel_type == "email"
            else None,
            csat=ask,
            # The chat channels' buttons (Slack, Telegram): a press comes back as an Interaction.
            buttons=tuple(OutboundButton(f"{csat_text.RATE_ACTION}{n}", f"{n} ★", token) for n in csat_text.RATINGS)
            if channel_type != "email"
            else (),
        )

    async def _outbound(self, claim: Claim) -> OutboundMessage:
        if claim.survey_id is not None:
            return await self._survey(claim.survey_id, claim)
        if claim.message_id is None:
            return await self._direct(claim.mail_id, claim)
        return await self.db.query(lambda session: self._outbound_of(session, claim))

    def _outbound_of(self, session: Session, claim: Claim) -> OutboundMessage:
        """A reply's `OutboundMessage`, read in one hop (a dozen statements: as many hops
        on an async session)."""
        assert claim.message_id is not None
        message = session.get(Message, claim.message_id)
        if message is None:
            raise LookupError(f"message {claim.message_id} is gone")
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        # A merged conversation holds messages from several channels: the reply goes to
        # the customer who wrote on the reply's channel, in that channel's thread.
        contact_id = session.scalar(
            select(Message.contact_id)
            .where(
                Message.conversation_id == conversation.id,
                Message.channel_id == message.channel_id,
                Message.direction == "in",
                Message.contact_id.is_not(None),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        contact_id = contact_id or conversation.contact_id
        origin = conversation
        if message.channel_id != conversation.channel_id:
            origin = (
                session.scalar(
                    select(Conversation)
                    .where(Conversation.merged_into_id == conversation.id, Conversation.channel_id == message.channel_id)
                    .order_by(Conversation.id.desc())
                    .limit(1)
                )
                or conversation
            )
        contact = session.get(Contact, contact_id)
        identity = session.scalar(
            select(ContactIdentity)
            .where(ContactIdentity.contact_id == contact_id, ContactIdentity.channel_id == message.channel_id)
            .order_by(ContactIdentity.id)
        )
        if identity is None or contact is None:
            raise LookupError(f"contact of conversation {conversation.id} has no address on this channel")
        thread = session.execute(
            select(Message.external_id, Message.direction)
            .where(
                Message.conversation_id == conversation.id,
                Message.channel_id == message.channel_id,
                Message.id != message.id,
                Message.private.is_(False),
                or_(Message.direction == "in", Message.delivery == "sent"),
            )
            .order_by(Message.id)
        ).all()
        # A customer who asked to be answered by email (the widget's offline form).
        last_meta = session.scalar(latest_inbound_meta(conversation.id))
        agent_name = None
        if message.agent_id is not None:
            agent_name = session.scalar(select(Agent.name).where(Agent.id == message.agent_id))
        ticket_number = session.scalar(select(Ticket.number).where(Ticket.conversation_id == conversation.id).order_by(Ticket.id))
        attachments = session.execute(
            select(Attachment.filename, Attachment.content_type, Blob.data)
            .join(Blob, Blob.sha256 == Attachment.sha256)
            .where(Attachment.message_id == message.id)
        ).all()
        inbound_ids = [r.external_id for r in thread if r.direction == "in"]
        return OutboundMessage(
            idempotency_key=claim.idempotency_key,
            recipient=Recipient(address=identity.address, name=contact.name, email=contact.email, language=contact.language),
            text=message.text,
            html=message.html,
            subject=conversation.subject,
            thread_key=origin.thread_key,
            references=tuple(r.external_id for r in thread),
            in_reply_to=inbound_ids[-1] if inbound_ids else None,
            attachments=tuple(OutboundAttachment(a.filename, a.content_type, a.data) for a in attachments),
            author_name=agent_name,
            conversation_meta={
                **(origin.meta or {}),
                **({"continue_by_email": email} if (email := continue_by_email(last_meta)) else {}),
            },
            ticket_number=ticket_number,
            portal_url=self.portal_url(contact.merged_into_id or contact.id) if self.portal_url is not None else None,
            buttons=tuple(
                OutboundButton(str(b.get("action_id", "")), str(b.get("text", "")), str(b.get("value", "")), b.get("style"))
                for b in (message.meta or {}).get("buttons", [])
                if isinstance(b, dict)
            ),
        )
