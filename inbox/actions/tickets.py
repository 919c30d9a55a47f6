"""Tickets, incidents and problems, as agents change them from the API and the UI.

The store-level steps (numbering, SLA due times, transitions, customer notices) are
`inbox.pipeline.tickets`, shared with the rules that convert on ingest. These actions add
what an agent's change needs: every id is one the agent may see (any other is "not
found", whatever it is), the values are checked once for every surface, and each change
leaves its audit entry.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.actions.services import set_affected
from inbox.errors import Invalid, NotFound
from inbox.pipeline import tickets as store
from inbox.queries.conversations import find_visible
from inbox.queries.tickets import find_visible_ticket, visible_ticket_rows
from inbox.store.models import Problem, Ticket
from routing.vocabulary import LEVELS, PRIORITIES, PROBLEM_STATUSES, TICKET_KINDS, TICKET_STATUSES

MAX_TITLE = 998
MAX_LINKS = 500


class Keep(enum.Enum):
    """A field the change leaves as it is (where None means "clear it")."""

    KEEP = "keep"


KEEP = Keep.KEEP


async def open_ticket(
    ctx: Context,
    actor: Actor,
    conversation_id: int,
    kind: str = "request",
    *,
    impact: str | None = None,
    urgency: str | None = None,
    priority: str | None = None,
    title: str | None = None,
    notify: bool = True,
) -> int:
    """Turn a visible conversation into a request or an incident; returns the ticket id.
    With `notify` (the default) the customer is told with the `ticket_status` template,
    through the outbox; without it nothing is sent."""
    if kind not in TICKET_KINDS:
        raise Invalid(f"kind must be one of {', '.join(TICKET_KINDS)}")
    if (impact and impact not in LEVELS) or (urgency and urgency not in LEVELS):
        raise Invalid(f"impact and urgency must be one of {', '.join(LEVELS)}")
    if priority and priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}")
    title = _title(title) if title and title.strip() else None  # none: the conversation's subject

    def work(tx: Tx) -> int:
        if find_visible(tx.session, actor.principal, conversation_id) is None:
            raise NotFound.of("conversation")
        ticket_id = store.open_ticket(
            tx.conn,
            conversation_id,
            kind,
            ctx.policy,
            tx.feed,
            impact=impact,
            urgency=urgency,
            priority=priority or None,
            title=title,
            now=tx.now,
            notify=notify,
        )
        chosen = tx.session.get(Ticket, ticket_id)
        assert chosen is not None
        details = {
            "conversation_id": conversation_id,
            "kind": kind,
            "priority": chosen.priority,
            "impact": chosen.impact,
            "urgency": chosen.urgency,
            "notify": notify,
        }
        tx.audit("ticket.create", f"ticket:{ticket_id}", details)
        return ticket_id

    return await perform(ctx.db, ctx.bus, actor, work)


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """What to change on a ticket; None (or nothing) leaves a field as it is."""

    status: str | None = None
    title: str | None = None
    problem_id: int | None = None  # link the incident to this problem
    children: tuple[int, ...] = ()  # make these incidents children of this major incident
    affected: tuple[str, ...] | None = None  # the services / configuration items it affects (exactly these)


async def update_ticket(ctx: Context, actor: Actor, ticket_id: int, changes: TicketChanges) -> None:
    """Change a visible ticket: status (by the ticket rules), title, its problem, its children."""
    if changes.status is not None and changes.status not in TICKET_STATUSES:
        raise Invalid(f"status must be one of {', '.join(TICKET_STATUSES)}")
    title = _title(changes.title) if changes.title is not None else None
    children = tuple(dict.fromkeys(changes.children))
    if len(children) > MAX_LINKS:
        raise Invalid(f"at most {MAX_LINKS} tickets at once")

    def work(tx: Tx) -> None:
        ticket = find_visible_ticket(tx.session, actor.principal, ticket_id)
        if ticket is None:
            raise NotFound.of("ticket")
        _require_visible(tx, actor, children)
        done: dict[str, Any] = {}
        if changes.status is not None and changes.status != ticket.status:
            store.change_status(tx.conn, ticket_id, changes.status, ctx.policy, tx.feed, now=tx.now)
            done["status"] = changes.status
        if changes.problem_id is not None and changes.problem_id != ticket.problem_id:
            store.link_to_problem(tx.conn, changes.problem_id, [ticket_id], tx.feed)
            done["problem_id"] = changes.problem_id
        if title is not None and title != ticket.title:
            store.set_title(tx.conn, ticket_id, title, tx.feed)
            done["title"] = title
        if children:
            store.link_children(tx.conn, ticket_id, list(children), tx.feed)
            done["children"] = list(children)
        if changes.affected is not None:
            affected = set_affected(tx, ticket_id, changes.affected)
            if affected is not None:
                done["affected"] = affected
                tx.event(
                    "ticket.updated",
                    {"ticket_id": ticket_id, "number": ticket.number, "changes": {"affected": affected}},
                    ticket.conversation_id,
                )
        if done:
            tx.audit("ticket.update", f"ticket:{ticket_id}", done)

    await perform(ctx.db, ctx.bus, actor, work)


async def link_children(ctx: Context, actor: Actor, parent_id: int, child_ids: Sequence[int]) -> None:
    """Group visible incidents under a visible major incident."""
    if not child_ids:
        raise Invalid("name at least one child incident")
    await update_ticket(ctx, actor, parent_id, TicketChanges(children=tuple(child_ids)))


async def create_problem(
    ctx: Context,
    actor: Actor,
    title: str,
    *,
    root_cause: str | None = None,
    workaround: str | None = None,
    known_error: bool = False,
    incidents: Sequence[int] = (),
) -> int:
    """A new problem, optionally grouping visible incidents; returns its id."""
    title = _title(title)
    incident_ids = _links(incidents)

    def work(tx: Tx) -> int:
        _require_visible(tx, actor, incident_ids)
        problem_id = store.create_problem(
            tx.conn, title, tx.feed, root_cause=_text(root_cause), workaround=_text(workaround), known_error=known_error
        )
        if incident_ids:
            store.link_to_problem(tx.conn, problem_id, list(incident_ids), tx.feed)
        details: dict[str, Any] = {
            "title": title,
            "root_cause": _text(root_cause),
            "workaround": _text(workaround),
            "known_error": known_error,
        }
        if incident_ids:
            details["incidents"] = list(incident_ids)
        tx.audit("problem.create", f"problem:{problem_id}", details)
        return problem_id

    return await perform(ctx.db, ctx.bus, actor, work)


@dataclass(frozen=True, slots=True)
class ProblemChanges:
    """What to change on a problem. None keeps title, status and known_error (they cannot be
    empty); root cause and workaround are kept with KEEP and cleared with None or ""."""

    title: str | None = None
    status: str | None = None
    root_cause: str | None | Keep = KEEP
    workaround: str | None | Keep = KEEP
    known_error: bool | None = None
    incidents: tuple[int, ...] = field(default=())


async def update_problem(ctx: Context, actor: Actor, problem_id: int, changes: ProblemChanges) -> None:
    """Record what is known of a problem and link more visible incidents to it. Only what
    differs from the stored problem is changed, announced and audited."""
    wanted: dict[str, Any] = {}
    if changes.title is not None:
        wanted["title"] = _title(changes.title)
    if changes.status is not None:
        if changes.status not in PROBLEM_STATUSES:
            raise Invalid(f"status must be one of {', '.join(PROBLEM_STATUSES)}")
        wanted["status"] = changes.status
    for name, value in (("root_cause", changes.root_cause), ("workaround", changes.workaround)):
        if not isinstance(value, Keep):
            wanted[name] = _text(value)
    if changes.known_error is not None:
        wanted["known_error"] = changes.known_error
    incident_ids = _links(changes.incidents)

    def work(tx: Tx) -> None:
        problem = tx.session.get(Problem, problem_id)
        if problem is None:
            raise NotFound.of("problem")
        _require_visible(tx, actor, incident_ids)
        if wanted.get("status", problem.status) == "known_error":
            wanted["known_error"] = True  # a known error is flagged as one, whatever the form said
        done = {k: v for k, v in wanted.items() if getattr(problem, k) != v}
        store.update_problem(tx.conn, problem_id, done, tx.feed)
        linked = set(tx.session.scalars(select(Ticket.id).where(Ticket.problem_id == problem_id)))
        new = [i for i in incident_ids if i not in linked]
        if new:
            store.link_to_problem(tx.conn, problem_id, new, tx.feed)
            done["incidents"] = new
        if done:
            tx.audit("problem.update", f"problem:{problem_id}", done)

    await perform(ctx.db, ctx.bus, actor, work)


def _require_visible(tx: Tx, actor: Actor, ticket_ids: Sequence[int]) -> None:
    """Every id names a ticket the actor may see; else "ticket not found", the same for a
    ticket that does not exist and one of another team (and before any kind is told)."""
    if not ticket_ids:
        return
    found = visible_ticket_rows(tx.session, actor.principal, ticket_ids)
    if any(i not in found for i in ticket_ids):
        raise NotFound.of("ticket")


def _title(value: str) -> str:
    title = value.strip()
    if not title:
        raise Invalid("a title cannot be empty")
    if len(title) > MAX_TITLE:
        raise Invalid(f"a title is at most {MAX_TITLE} characters")
    return title


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _links(ids: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(ids))
    if len(unique) > MAX_LINKS:
        raise Invalid(f"at most {MAX_LINKS} tickets at once")
    return unique
