"""Reading the public status page: services, their state, history and incident updates.

Everything here is public: nothing of a ticket leaves but its number, times, severity,
what it affects and its *public* broadcasts (an internal title may hold a customer's
words, so the page names an incident by what it affects). See `routing.service_status`
for how a state is derived.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal
from inbox.queries.contact_names import display_name, visitor_number
from inbox.queries.conversations import visibility
from inbox.store.models import (
    Broadcast,
    Channel,
    ConfigItem,
    Contact,
    Conversation,
    Dependency,
    IncidentSuggestion,
    Message,
    Service,
    ServiceSubscriber,
    StatusSubscriber,
    Ticket,
    TicketAffected,
)
from routing.impact import Edge, Node, depends_on
from routing.service_status import Interval, ServiceState, daily_history, incident_severity, overall, softened, worst

HISTORY_DAYS = 90
RECENT_DAYS = 14  # resolved incidents listed under "Past incidents"
CLOSED = ("resolved", "closed")
PREVIEW = 200


@dataclass(frozen=True, slots=True)
class Update:
    text: str
    at: dt.datetime


@dataclass(slots=True)
class PublicIncident:
    number: int
    severity: ServiceState
    open: bool
    started_at: dt.datetime
    resolved_at: dt.datetime | None
    affects: list[str]  # the names it affects directly (services and items)
    services: list[str]  # the shown services it reaches
    updates: list[Update] = field(default_factory=list)  # newest first


@dataclass(slots=True)
class ServiceStatus:
    id: int
    name: str
    description: str
    state: ServiceState
    history: list[tuple[dt.date, ServiceState]]
    uptime: float  # share of the history's days with no incident reaching it


@dataclass(slots=True)
class StatusPage:
    state: ServiceState
    services: list[ServiceStatus]
    incidents: list[PublicIncident]  # open first, then recent past ones; newest first
    generated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class _Incident:
    id: int
    number: int
    severity: ServiceState
    start: dt.datetime
    end: dt.datetime | None
    affected: frozenset[Node]


async def graph(session: AsyncSession) -> tuple[dict[Node, str], list[Edge]]:
    """Every node's name and every dependency edge."""
    names: dict[Node, str] = {("service", r.id): r.name for r in await session.execute(select(Service.id, Service.name))}
    names.update({("config_item", r.id): r.name for r in await session.execute(select(ConfigItem.id, ConfigItem.name))})
    edges = [
        ((r.source_type, r.source_id), (r.target_type, r.target_id))
        for r in await session.execute(select(Dependency.source_type, Dependency.source_id, Dependency.target_type, Dependency.target_id))
    ]
    return names, edges


async def _incidents(session: AsyncSession, since: dt.datetime) -> list[_Incident]:
    """Incidents naming something, open now or opened/resolved since `since`."""
    rows = (
        await session.execute(
            select(
                Ticket.id,
                Ticket.number,
                Ticket.priority,
                Ticket.impact,
                Ticket.status,
                Ticket.created_at,
                Ticket.resolved_at,
                Ticket.updated_at,
            )
            .where(Ticket.kind == "incident", Ticket.id.in_(select(TicketAffected.ticket_id)))
            .where(Ticket.status.not_in(CLOSED) | (Ticket.resolved_at >= since) | (Ticket.updated_at >= since))
        )
    ).all()
    affected: dict[int, set[Node]] = {}
    if rows:
        for a in await session.execute(
            select(TicketAffected.ticket_id, TicketAffected.node_type, TicketAffected.node_id).where(
                TicketAffected.ticket_id.in_([r.id for r in rows])
            )
        ):
            affected.setdefault(a.ticket_id, set()).add((a.node_type, a.node_id))
    out = []
    for r in rows:
        end = None if r.status not in CLOSED else (r.resolved_at or r.updated_at)
        out.append(_Incident(r.id, r.number, incident_severity(r.priority, r.impact), r.created_at, end, frozenset(affected.get(r.id, ()))))
    return out


async def shown_services(session: AsyncSession, all_services: bool) -> list[Service]:
    """The services the page lists: those with subscribers (or every one), by name."""
    query = select(Service).order_by(Service.name)
    if not all_services:
        query = query.where(Service.id.in_(select(ServiceSubscriber.service_id)))
    return list((await session.scalars(query)).all())


async def status_page(session: AsyncSession, *, all_services: bool, now: dt.datetime) -> StatusPage:
    since = now - dt.timedelta(days=HISTORY_DAYS)
    names, edges = await graph(session)
    services = await shown_services(session, all_services)
    incidents = await _incidents(session, since)
    today = now.astimezone(dt.UTC).date()
    shown: list[ServiceStatus] = []
    reaches: dict[int, list[str]] = {}
    for service in services:
        node: Node = ("service", service.id)
        below = set(depends_on(edges, [node]))
        now_states: list[ServiceState] = []
        intervals: list[Interval] = []
        for incident in incidents:
            if node in incident.affected:
                state = incident.severity
            elif incident.affected & below:
                state = softened(incident.severity)
            else:
                continue
            reaches.setdefault(incident.id, []).append(service.name)
            intervals.append(Interval(incident.start, incident.end, state))
            if incident.end is None:
                now_states.append(state)
        history = daily_history(intervals, today, HISTORY_DAYS)
        clear = sum(1 for _, s in history if s == "operational")
        shown.append(ServiceStatus(service.id, service.name, service.description, worst(now_states), history, clear / len(history)))
    recent = now - dt.timedelta(days=RECENT_DAYS)
    listed = [i for i in incidents if i.id in reaches and (i.end is None or i.end >= recent)]
    updates: dict[int, list[Update]] = {}
    if listed:
        for b in await session.execute(
            select(Broadcast.ticket_id, Broadcast.text, Broadcast.created_at)
            .where(Broadcast.public.is_(True), Broadcast.ticket_id.in_([i.id for i in listed]))
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        ):
            updates.setdefault(b.ticket_id, []).append(Update(b.text, b.created_at))
    public = [
        PublicIncident(
            number=i.number,
            severity=i.severity,
            open=i.end is None,
            started_at=i.start,
            resolved_at=i.end,
            affects=sorted(names[n] for n in i.affected if n in names),
            services=reaches[i.id],
            updates=updates.get(i.id, []),
        )
        for i in sorted(listed, key=lambda i: (i.end is not None, -i.start.timestamp()))
    ]
    return StatusPage(overall({("service", s.id): s.state for s in shown}), shown, public, now)


async def subscriber_by_token(session: AsyncSession, token: str) -> StatusSubscriber | None:
    return await session.scalar(select(StatusSubscriber).where(StatusSubscriber.token == token))


async def public_updates_since(session: AsyncSession, since: dt.datetime, limit: int = 50) -> list[tuple[Broadcast, int]]:
    """Public broadcasts (with their ticket's number), newest first: the Atom feed's entries."""
    rows = await session.execute(
        select(Broadcast, Ticket.number)
        .join(Ticket, Ticket.id == Broadcast.ticket_id)
        .where(Broadcast.public.is_(True), Broadcast.created_at >= since)
        .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        .limit(limit)
    )
    return [(b, n) for b, n in rows.all()]


# -- surge suggestions ---------------------------------------------------------------


async def suggestions(
    session: AsyncSession, who: Principal | None, status: str = "open", *, before_id: int | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], int | None]:
    """Suggestions in `status`, newest first, each described with the conversations `who`
    may see (a suggestion with none of those is left out); and the id to continue
    before when there may be more (None: that was all)."""
    query = select(IncidentSuggestion).where(IncidentSuggestion.status == status).order_by(IncidentSuggestion.id.desc())
    if before_id is not None:
        query = query.where(IncidentSuggestion.id < before_id)
    rows = list((await session.scalars(query.limit(limit))).all())
    items = [d for d in await describe_suggestions(session, who, rows) if d["conversations"]]
    return items, rows[-1].id if len(rows) == limit else None


async def get_suggestion(session: AsyncSession, who: Principal | None, suggestion_id: int) -> dict[str, Any] | None:
    row = await session.get(IncidentSuggestion, suggestion_id)
    if row is None:
        return None
    [described] = await describe_suggestions(session, who, [row])
    return described if described["conversations"] else None


async def describe_suggestions(session: AsyncSession, who: Principal | None, rows: list[IncidentSuggestion]) -> list[dict[str, Any]]:
    wanted = {cid for row in rows for cid in row.conversation_ids}
    messages = {mid for row in rows for mid in row.message_ids}
    conversations: dict[int, dict[str, Any]] = {}
    if wanted:
        seen = await visibility(session, who)
        found = await session.execute(
            select(
                Conversation.id,
                Conversation.subject,
                Conversation.status,
                Channel.name,
                Channel.type,
                Conversation.contact_id,
                Contact.name.label("contact"),
                Contact.email,
            )
            .join(Channel, Channel.id == Conversation.channel_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.id.in_(wanted), seen)
        )
        for r in found:
            conversations[r.id] = {
                "id": r.id,
                "subject": r.subject,
                "status": r.status,
                "channel": r.name,
                "channel_type": r.type,
                "contact": display_name(r.contact, r.email, r.contact_id),
                "visitor_number": visitor_number(r.contact, r.email, r.contact_id),
                "text": "",
            }
        if messages:
            for m in await session.execute(
                select(Message.id, Message.conversation_id, Message.text, Message.created_at)
                .where(Message.id.in_(messages))
                .order_by(Message.id)
            ):
                if m.conversation_id in conversations and not conversations[m.conversation_id]["text"]:
                    conversations[m.conversation_id]["text"] = (m.text or "")[:PREVIEW]
                    conversations[m.conversation_id]["received_at"] = _iso(m.created_at)
    return [
        {
            "id": row.id,
            "status": row.status,
            "name": row.name,
            "node": {"type": row.node_type, "id": row.node_id, "name": row.name} if row.node_type else None,
            "conversations": [conversations[c] for c in row.conversation_ids if c in conversations],
            "ticket_id": row.ticket_id,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "decided_at": _iso(row.decided_at),
        }
        for row in rows
    ]


async def open_suggestion_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(IncidentSuggestion).where(IncidentSuggestion.status == "open")) or 0)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None
