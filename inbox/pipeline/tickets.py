"""Tickets, incidents and problems in the store: numbering, SLA due times, status changes.

Synchronous Core on a connection, so the ingest transaction (rules that convert) and the
API share one implementation; the decisions themselves come from `routing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from inbox.errors import Conflict, Invalid, NotFound
from inbox.pipeline import csat
from inbox.pipeline.ingest import Feed
from inbox.pipeline.replies import Reply, queue_reply
from inbox.store.db import insert_ids
from inbox.store.models import Contact, Conversation, Counter, Problem, Ticket, utcnow
from routing import sla as sla_rules
from routing import tickets as ticket_rules
from routing.priority import incident_priority
from routing.templates import NotificationTemplates
from routing.vocabulary import LEVELS, TICKET_KINDS

tickets_t = cast(Table, Ticket.__table__)
problems_t = cast(Table, Problem.__table__)
counters_t = cast(Table, Counter.__table__)
conversations_t = cast(Table, Conversation.__table__)
contacts_t = cast(Table, Contact.__table__)


@dataclass(frozen=True)
class TicketPolicy:
    """What ticket changes need from the configuration."""

    sla: Mapping[Any, sla_rules.SLAPolicy]  # by priority, "P1".."P5"
    templates: NotificationTemplates | None = None


def next_number(conn: Connection, name: str) -> int:
    """The next value of a named counter (ticket and problem numbers), atomically."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(counters_t)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": counters_t.c.value + 1})
        .returning(counters_t.c.value)
    )
    return int(conn.execute(statement).scalar_one())


def due_times(created_at: dt.datetime, priority: str, policy: TicketPolicy, pauses: list[list[str | None]]) -> sla_rules.DueTimes:
    chosen = policy.sla.get(priority)
    if chosen is None:
        return sla_rules.DueTimes(None, None)
    parsed = [(dt.datetime.fromisoformat(str(a)), dt.datetime.fromisoformat(b) if b else None) for a, b in pauses]
    return sla_rules.due_times(created_at, chosen, parsed)


def open_ticket(
    conn: Connection,
    conversation_id: int,
    kind: str,
    policy: TicketPolicy,
    feed: Feed,
    *,
    impact: str | None = None,
    urgency: str | None = None,
    priority: str | None = None,
    title: str | None = None,
    now: dt.datetime | None = None,
    notify: bool = True,
) -> int:
    """Turn a conversation into a request or an incident; returns the ticket id.

    An incident's priority comes from impact × urgency (ITIL); a request keeps the
    conversation's priority or P3. The customer is told with the `ticket_status`
    template when one exists.
    """
    if kind not in TICKET_KINDS:
        raise Invalid(f"kind must be one of {', '.join(TICKET_KINDS)}")
    existing = conn.scalar(select(tickets_t.c.id).where(tickets_t.c.conversation_id == conversation_id))
    if existing is not None:
        raise Conflict(f"conversation {conversation_id} is already ticket {existing}")
    conversation = conn.execute(
        select(
            conversations_t.c.subject, conversations_t.c.priority, conversations_t.c.created_at, conversations_t.c.first_response_at
        ).where(conversations_t.c.id == conversation_id)
    ).one()
    now = now or utcnow()
    if kind == "incident":
        impact, urgency = impact or "medium", urgency or "medium"
        if impact not in LEVELS or urgency not in LEVELS:
            raise Invalid("impact and urgency must be high, medium or low")
        chosen: str = incident_priority(impact, urgency)  # type: ignore[arg-type]
    else:
        impact = urgency = None
        chosen = priority or conversation.priority or "P3"
    due = due_times(conversation.created_at, chosen, policy, [])
    number = next_number(conn, "ticket")
    [ticket_id] = insert_ids(
        conn,
        tickets_t,
        [
            {
                "number": number,
                "conversation_id": conversation_id,
                "kind": kind,
                "title": (title or conversation.subject or "")[:998],
                "status": "new",
                "priority": chosen,
                "impact": impact,
                "urgency": urgency,
                "first_response_due": due.first_response_due,
                "first_response_at": conversation.first_response_at,
                "resolution_due": due.resolution_due,
                "pauses": [],
                "sla_flags": [],
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    conn.execute(update(conversations_t).where(conversations_t.c.id == conversation_id).values(priority=chosen, updated_at=now))
    payload = {"ticket_id": ticket_id, "number": number, "kind": kind, "priority": chosen, "conversation_id": conversation_id}
    feed.append(("ticket.created", payload, conversation_id))
    if notify:
        _notify(conn, ticket_id, "created", policy, feed)
    return ticket_id


def change_status(
    conn: Connection, ticket_id: int, status: str, policy: TicketPolicy, feed: Feed, *, now: dt.datetime | None = None
) -> None:
    """Move a ticket to `status` if the rules allow it; pause the SLA while pending."""
    row = conn.execute(select(tickets_t).where(tickets_t.c.id == ticket_id)).first()
    if row is None:
        raise NotFound.of("ticket")
    if status == row.status:
        return
    try:
        ticket_rules.check_transition(row.status, status)  # type: ignore[arg-type]
    except ticket_rules.InvalidTransition as exc:
        raise Invalid(str(exc)) from None
    now = now or utcnow()
    pauses = [list(p) for p in (row.pauses or [])]
    if status == "pending" and not (pauses and pauses[-1][1] is None):
        pauses.append([now.isoformat(), None])
    elif status != "pending" and pauses and pauses[-1][1] is None:
        pauses[-1][1] = now.isoformat()
    created = conn.scalar(select(conversations_t.c.created_at).where(conversations_t.c.id == row.conversation_id)) or row.created_at
    due = due_times(created, row.priority, policy, pauses)
    values: dict[str, Any] = {
        "status": status,
        "pauses": pauses,
        "updated_at": now,
        "first_response_due": due.first_response_due,
        "resolution_due": due.resolution_due,
        "resolved_at": now if status in ("resolved", "closed") else None,
    }
    conn.execute(update(tickets_t).where(tickets_t.c.id == ticket_id).values(**values))
    if row.conversation_id is not None and status in ("resolved", "closed"):
        conn.execute(
            update(conversations_t)
            .where(conversations_t.c.id == row.conversation_id, conversations_t.c.status != "resolved")
            .values(status="resolved", resolved_at=now, updated_at=now)
        )
        csat.ask(conn, row.conversation_id, feed, now=now)
    elif row.conversation_id is not None and row.status in ("resolved", "closed"):
        csat.withdraw(conn, [row.conversation_id])  # reopened: the resolution its survey was about does not hold
    feed.append(("ticket.updated", {"ticket_id": ticket_id, "number": row.number, "changes": {"status": status}}, row.conversation_id))
    notification = ticket_rules.notification_for(row.status, status)  # type: ignore[arg-type]
    if notification is not None:
        _notify(conn, ticket_id, notification.event, policy, feed)


def link_children(conn: Connection, parent_id: int, child_ids: list[int], feed: Feed) -> None:
    """Group incidents under a major incident; a reply to it reaches every child's customer."""
    rows = {r.id: r for r in conn.execute(select(tickets_t).where(tickets_t.c.id.in_([parent_id, *child_ids])))}
    if parent_id not in rows:
        raise NotFound.of("ticket")
    parent = rows[parent_id]
    with_children = {r[0] for r in conn.execute(select(tickets_t.c.parent_id).where(tickets_t.c.parent_id.in_(child_ids)).distinct())}
    for child_id in child_ids:
        if child_id not in rows:
            raise NotFound.of("ticket")
        child = rows[child_id]
        try:
            ticket_rules.check_child_link(_ref(parent, False), _ref(child, child_id in with_children))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    conn.execute(update(tickets_t).where(tickets_t.c.id.in_(child_ids)).values(parent_id=parent_id, updated_at=utcnow()))
    feed.append(
        ("ticket.updated", {"ticket_id": parent_id, "number": parent.number, "changes": {"children": child_ids}}, parent.conversation_id)
    )


def _ref(row: Any, has_children: bool) -> ticket_rules.TicketRef:
    return ticket_rules.TicketRef(id=row.id, kind=row.kind, parent_id=row.parent_id, has_children=has_children)


def set_title(conn: Connection, ticket_id: int, title: str, feed: Feed) -> None:
    row = conn.execute(select(tickets_t.c.number, tickets_t.c.conversation_id).where(tickets_t.c.id == ticket_id)).first()
    if row is None:
        raise NotFound.of("ticket")
    conn.execute(update(tickets_t).where(tickets_t.c.id == ticket_id).values(title=title[:998], updated_at=utcnow()))
    feed.append(("ticket.updated", {"ticket_id": ticket_id, "number": row.number, "changes": {"title": title[:998]}}, row.conversation_id))


PROBLEM_FIELDS = ("title", "status", "root_cause", "workaround", "known_error")


def update_problem(conn: Connection, problem_id: int, changes: Mapping[str, Any], feed: Feed) -> None:
    """Record root cause, workaround, known-error flag, title or status of a problem (the
    values are the caller's, validated: see `inbox.actions.tickets.update_problem`)."""
    values = {k: v for k, v in changes.items() if k in PROBLEM_FIELDS}
    if conn.scalar(select(problems_t.c.id).where(problems_t.c.id == problem_id)) is None:
        raise NotFound.of("problem")
    if not values:
        return
    if values.get("status") == "known_error":
        values["known_error"] = True
    conn.execute(update(problems_t).where(problems_t.c.id == problem_id).values(**values))
    feed.append(("problem.updated", {"problem_id": problem_id, "changes": dict(values)}, None))


def create_problem(
    conn: Connection, title: str, feed: Feed, *, root_cause: str | None = None, workaround: str | None = None, known_error: bool = False
) -> int:
    number = next_number(conn, "problem")
    [problem_id] = insert_ids(
        conn,
        problems_t,
        [
            {
                "number": number,
                "title": title[:998],
                "status": "open",
                "root_cause": root_cause,
                "workaround": workaround,
                "known_error": known_error,
                "created_at": utcnow(),
            }
        ],
    )
    feed.append(("problem.created", {"problem_id": problem_id, "number": number}, None))
    return problem_id


def link_to_problem(conn: Connection, problem_id: int, ticket_ids: list[int], feed: Feed) -> None:
    """Group incidents under a problem. Each incident's link is announced on its own
    conversation, so the event reaches only the agents who may see that incident."""
    if conn.scalar(select(problems_t.c.id).where(problems_t.c.id == problem_id)) is None:
        raise NotFound.of("problem")
    rows = {
        r.id: r
        for r in conn.execute(select(tickets_t.c.id, tickets_t.c.kind, tickets_t.c.conversation_id).where(tickets_t.c.id.in_(ticket_ids)))
    }
    for ticket_id in ticket_ids:
        if ticket_id not in rows:
            raise NotFound.of("ticket")
        if rows[ticket_id].kind != "incident":
            raise Invalid(f"ticket {ticket_id} is not an incident")
    conn.execute(update(tickets_t).where(tickets_t.c.id.in_(ticket_ids)).values(problem_id=problem_id, updated_at=utcnow()))
    for ticket_id in dict.fromkeys(ticket_ids):
        feed.append(("problem.updated", {"problem_id": problem_id, "changes": {"incidents": [ticket_id]}}, rows[ticket_id].conversation_id))


def _notify(conn: Connection, ticket_id: int, event: str, policy: TicketPolicy, feed: Feed) -> None:
    """Tell the customer, on their own channel, in their language."""
    if policy.templates is None or "ticket_status" not in policy.templates.names:
        return
    row = conn.execute(
        select(
            tickets_t.c.number, tickets_t.c.kind, tickets_t.c.title, tickets_t.c.conversation_id, contacts_t.c.name, contacts_t.c.language
        )
        .join(conversations_t, conversations_t.c.id == tickets_t.c.conversation_id)
        .join(contacts_t, contacts_t.c.id == conversations_t.c.contact_id)
        .where(tickets_t.c.id == ticket_id)
    ).first()
    if row is None:
        return
    rendered = policy.templates.render(
        "ticket_status",
        row.language,
        {"event": event, "ticket_number": row.number, "ticket_kind": row.kind, "ticket_title": row.title, "contact_name": row.name},
    )
    queue_reply(
        conn,
        row.conversation_id,
        Reply(text=rendered.text, author_type="system", subject=rendered.subject, meta={"notification": event}),
        feed,
    )
