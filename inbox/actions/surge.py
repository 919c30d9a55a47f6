"""Surge detection's writes: the worker's pass that suggests major incidents, and an
agent's accept or dismiss of a suggestion.

A pass reads the window (inbound customer messages of the last `window_minutes` whose
conversation has no ticket yet, or an incident ticket without a parent, and is in no
decided suggestion) in a read session, scores and clusters it with the pure
`routing.surge.plan` outside any transaction (the writers' lock is never held while it
computes), then writes what it found in one short transaction, re-checking there what
another worker may have written meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.pipeline import tickets as store
from inbox.queries.conversations import visible_to
from inbox.store.models import ConfigItem, Conversation, IncidentSuggestion, Message, Service, Ticket, TicketAffected, utcnow
from routing.surge import Item, Settings, Surge, plan

SURGE = Actor.system("surge")
MAX_TEXT = 2000  # of each message, compared
DECIDED_MEMORY = dt.timedelta(days=1)  # a decided suggestion's conversations stay out of later passes this long


@dataclass(frozen=True, slots=True)
class SurgeSettings:
    settings: Settings
    window: dt.timedelta
    max_messages: int = 500


async def _window(session: AsyncSession, since: dt.datetime, limit: int) -> list[Item]:
    linked = select(Ticket.conversation_id).where(
        Ticket.conversation_id.is_not(None), or_(Ticket.kind != "incident", Ticket.parent_id.is_not(None))
    )
    parents = select(Ticket.parent_id).where(Ticket.parent_id.is_not(None))
    major = select(Ticket.conversation_id).where(Ticket.id.in_(parents), Ticket.conversation_id.is_not(None))
    rows = (
        await session.execute(
            select(Message.id, Message.conversation_id, Message.subject, Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.direction == "in",
                Message.author_type == "contact",
                Message.private.is_(False),
                Message.created_at >= since,
                Conversation.merged_into_id.is_(None),
                Message.conversation_id.not_in(linked),
                Message.conversation_id.not_in(major),
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
    ).all()
    items = [Item(r.id, r.conversation_id, f"{r.subject or ''}\n{r.text or ''}"[:MAX_TEXT]) for r in reversed(rows)]
    return items


async def _names(session: AsyncSession) -> dict[str, tuple[str, int]]:
    names = {r.name: ("service", r.id) for r in await session.execute(select(Service.id, Service.name))}
    names.update({r.name: ("config_item", r.id) for r in await session.execute(select(ConfigItem.id, ConfigItem.name))})
    return names


def _memberships(rows: Sequence[IncidentSuggestion]) -> tuple[dict[int, set[int]], set[int]]:
    open_: dict[int, set[int]] = {}
    decided: set[int] = set()
    for row in rows:
        if row.status == "open":
            open_[row.id] = set(row.conversation_ids)
        else:
            decided.update(row.conversation_ids)
    return open_, decided


def _recent(since: dt.datetime) -> ColumnElement[bool]:
    return or_(IncidentSuggestion.status == "open", IncidentSuggestion.updated_at >= since)


async def run_pass(ctx: Context, config: SurgeSettings, now: dt.datetime | None = None) -> list[int]:
    """One look at the window; returns the ids of the suggestions created or extended."""
    now = now or utcnow()
    async with ctx.db.read() as session:
        items = await _window(session, now - config.window, config.max_messages)
        if len({i.conversation_id for i in items}) < config.settings.min_messages:
            return []
        names = await _names(session)
        known = list((await session.scalars(select(IncidentSuggestion).where(_recent(now - DECIDED_MEMORY)))).all())
    open_, decided = _memberships(known)
    items = [i for i in items if i.conversation_id not in decided]
    surges = plan(items, names, open_, config.settings)
    if not surges:
        return []

    def work(tx: Tx) -> list[int]:
        fresh = list(tx.session.scalars(select(IncidentSuggestion).where(_recent(tx.now - DECIDED_MEMORY))).all())
        open_now, decided_now = _memberships(fresh)
        by_id = {row.id: row for row in fresh}
        touched: list[int] = []
        for surge in surges:
            touched.extend(_write(tx, surge, names, open_now, decided_now, by_id))
        return touched

    return await perform(ctx.db, ctx.bus, SURGE, work)


def _write(
    tx: Tx,
    surge: Surge,
    names: dict[str, tuple[str, int]],
    open_now: dict[int, set[int]],
    decided_now: set[int],
    by_id: dict[int, IncidentSuggestion],
) -> list[int]:
    conversations = [c for c in surge.conversation_ids if c not in decided_now]
    target = surge.extends if surge.extends in open_now else None
    if target is None:  # another worker may have opened one meanwhile
        target = next((sid for sid, members in sorted(open_now.items()) if members & set(conversations)), None)
    messages = [i.message_id for i in surge.items if i.conversation_id in set(conversations)]
    if target is not None:
        row = by_id[target]
        new = [c for c in conversations if c not in open_now[target]]
        if not new:
            return []
        row.conversation_ids = [*row.conversation_ids, *new]
        row.message_ids = [*row.message_ids, *(m for m in messages if m not in set(row.message_ids))]
        row.updated_at = tx.now
        open_now[target].update(new)
        tx.audit("incident_suggestion.update", f"incident_suggestion:{row.id}", {"added": new})
        return [row.id]
    if not conversations:
        return []
    node = names.get(surge.name) if surge.name else None
    row = IncidentSuggestion(
        status="open",
        conversation_ids=conversations,
        message_ids=messages,
        node_type=node[0] if node else None,
        node_id=node[1] if node else None,
        name=surge.name,
        created_at=tx.now,
        updated_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    open_now[row.id] = set(conversations)
    by_id[row.id] = row
    payload = {"suggestion_id": row.id, "conversation_ids": conversations, "name": surge.name, "node_type": row.node_type}
    tx.event("incident.suggested", payload)
    tx.audit("incident_suggestion.create", f"incident_suggestion:{row.id}", {"conversations": conversations, "name": surge.name})
    return [row.id]


def _open_suggestion(tx: Tx, suggestion_id: int) -> IncidentSuggestion:
    row = tx.session.get(IncidentSuggestion, suggestion_id)
    if row is None:
        raise NotFound.of("incident suggestion")
    if row.status != "open":
        raise Conflict(f"incident suggestion {suggestion_id} is already {row.status}", code="suggestion_decided")
    return row


@dataclass(frozen=True, slots=True)
class Accepted:
    ticket_id: int
    number: int
    children: list[int]  # ticket ids
    skipped: list[int]  # conversation ids left out (not visible, or already linked elsewhere)


async def accept(ctx: Context, actor: Actor, suggestion_id: int, title: str | None = None) -> Accepted:
    """Open the major incident: the suggestion's first conversation becomes the major
    incident (impact high, urgency high: P1), naming the suggested service or item as
    affected; every other conversation becomes an incident linked to it as a child (an
    incident ticket it already has is reused). One transaction."""
    if title is not None and len(title.strip()) > 998:
        raise Invalid("title is at most 998 characters")

    def work(tx: Tx) -> Accepted:
        row = _open_suggestion(tx, suggestion_id)
        visible = set(
            tx.session.scalars(
                select(Conversation.id).where(Conversation.id.in_(row.conversation_ids), visible_to(tx.session, actor.principal))
            )
        )
        tickets = {t.conversation_id: t for t in tx.session.scalars(select(Ticket).where(Ticket.conversation_id.in_(row.conversation_ids)))}
        usable, skipped = [], []
        for cid in row.conversation_ids:
            ticket = tickets.get(cid)
            if cid not in visible or (ticket is not None and (ticket.kind != "incident" or ticket.parent_id is not None)):
                skipped.append(cid)
            else:
                usable.append(cid)
        if not usable:
            raise Conflict("none of the suggestion's conversations can be linked any more", code="suggestion_stale")
        has_children = set(tx.session.scalars(select(Ticket.parent_id).where(Ticket.parent_id.is_not(None))))
        ids: list[int] = []
        for cid in usable:
            ticket = tickets.get(cid)
            if ticket is not None:
                ids.append(ticket.id)
            else:
                ids.append(store.open_ticket(tx.conn, cid, "incident", ctx.policy, tx.feed, impact="high", urgency="high", now=tx.now))
        # The major incident is the earliest conversation's; a reused ticket that is itself a major one stays beside it.
        parent, children = ids[0], [t for t in ids[1:] if t not in has_children]
        label = (title or "").strip() or (f"Surge: {row.name}" if row.name else "Surge of similar messages")
        store.set_title(tx.conn, parent, label[:998], tx.feed)
        if children:
            store.link_children(tx.conn, parent, children, tx.feed)
        if row.node_type is not None and row.node_id is not None:
            exists = tx.session.get(TicketAffected, (parent, row.node_type, row.node_id))
            if exists is None:
                tx.session.add(TicketAffected(ticket_id=parent, node_type=row.node_type, node_id=row.node_id))
        row.status, row.ticket_id, row.decided_by, row.decided_at, row.updated_at = "accepted", parent, actor.agent_id, tx.now, tx.now
        number = tx.conn.scalar(select(Ticket.number).where(Ticket.id == parent))
        tx.audit(
            "incident_suggestion.accept", f"incident_suggestion:{row.id}", {"ticket_id": parent, "children": children, "skipped": skipped}
        )
        return Accepted(parent, int(number or 0), children, skipped)

    return await perform(ctx.db, ctx.bus, actor, work)


async def dismiss(ctx: Context, actor: Actor, suggestion_id: int) -> None:
    """Not an incident: the suggestion closes and its conversations stay out of surges for a day."""

    def work(tx: Tx) -> None:
        row = _open_suggestion(tx, suggestion_id)
        row.status, row.decided_by, row.decided_at, row.updated_at = "dismissed", actor.agent_id, tx.now, tx.now
        tx.audit("incident_suggestion.dismiss", f"incident_suggestion:{row.id}")

    await perform(ctx.db, ctx.bus, actor, work)
