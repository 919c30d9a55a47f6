"""The SLA check: which ticket targets became due soon or breached, announced once each.

A ticket remembers what was announced (`sla_flags`), so several workers running the
watch (`inbox.runtime.sla_watch`) never announce the same thing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, Table, select, update

from inbox.pipeline.ingest import Feed
from inbox.pipeline.tickets import TicketPolicy
from inbox.store.models import Conversation, Ticket
from routing.sla import DEFAULT_DUE_SOON, SLAState, sla_event, sla_state

tickets_t = cast(Table, Ticket.__table__)
conversations_t = cast(Table, Conversation.__table__)


def _previous(flags: set[str], target: str) -> SLAState:
    if f"{target}:breached" in flags:
        return "breached"
    if f"{target}:due_soon" in flags:
        return "due_soon"
    return "ok"


def check(conn: Connection, policy: TicketPolicy, now: dt.datetime, feed: Feed) -> None:
    """Announce (into `feed`) each SLA target that became due soon or breached at `now`."""
    rows = conn.execute(
        select(
            tickets_t.c.id,
            tickets_t.c.number,
            tickets_t.c.priority,
            tickets_t.c.conversation_id,
            tickets_t.c.first_response_due,
            tickets_t.c.resolution_due,
            tickets_t.c.resolved_at,
            tickets_t.c.sla_flags,
            conversations_t.c.first_response_at,
        )
        .outerjoin(conversations_t, conversations_t.c.id == tickets_t.c.conversation_id)
        .where(
            tickets_t.c.status.not_in(("closed",)),
            (tickets_t.c.first_response_due.is_not(None)) | (tickets_t.c.resolution_due.is_not(None)),
        )
    ).all()
    for row in rows:
        chosen = policy.sla.get(row.priority)
        due_soon = chosen.due_soon if chosen is not None else DEFAULT_DUE_SOON
        flags = set(row.sla_flags or ())
        before = set(flags)
        for target, due, met in (
            ("first_response", row.first_response_due, row.first_response_at),
            ("resolution", row.resolution_due, row.resolved_at),
        ):
            state = sla_state(now, due, met, due_soon=due_soon)
            event = sla_event(_previous(flags, target), state)
            if event is not None:
                flags.add(f"{target}:{state}")
                payload = {"ticket_id": row.id, "number": row.number, "target": target, "due": due.isoformat() if due else None}
                feed.append((event, payload, row.conversation_id))
        if flags != before:
            conn.execute(update(tickets_t).where(tickets_t.c.id == row.id).values(sla_flags=sorted(flags)))
