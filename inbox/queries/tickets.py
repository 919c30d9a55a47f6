"""Reading tickets, incidents and problems: who may see which, and the lists the surfaces show.

A ticket is visible with its conversation (see `queries.conversations.visible_to`); a
problem is visible to every agent, but only the incidents an agent may see are listed.
A `who` of None is a system caller and sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries.conversations import visible_to
from inbox.store.models import Conversation, Problem, Ticket


def tickets_visible_to(session: Session, who: Principal | None) -> ColumnElement[bool]:
    """The tickets `who` may see: those without a conversation, and those of visible ones."""
    if who is None or who.is_admin:
        return Ticket.id.is_not(None)
    visible = select(Conversation.id).where(visible_to(session, who))
    return Ticket.conversation_id.is_(None) | Ticket.conversation_id.in_(visible)


async def ticket_visibility(session: AsyncSession, who: Principal | None) -> ColumnElement[bool]:
    return await session.run_sync(tickets_visible_to, who)


def find_visible_ticket(session: Session, who: Principal | None, ticket_id: int) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.id == ticket_id, tickets_visible_to(session, who)))


async def get_visible_ticket(session: AsyncSession, who: Principal | None, ticket_id: int) -> Ticket | None:
    return await session.run_sync(find_visible_ticket, who, ticket_id)


def visible_ticket_rows(session: Session, who: Principal | None, ticket_ids: Sequence[int]) -> dict[int, Ticket]:
    """Those of `ticket_ids` that exist and `who` may see, by id."""
    if not ticket_ids:
        return {}
    query = select(Ticket).where(Ticket.id.in_(list(ticket_ids)), tickets_visible_to(session, who))
    return {t.id: t for t in session.scalars(query)}


async def list_tickets(
    session: AsyncSession,
    who: Principal,
    *,
    kind: str | None = None,
    status: str | None = None,
    priority: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Ticket]:
    """Visible tickets, newest first."""
    query = select(Ticket).where(await ticket_visibility(session, who))
    if kind:
        query = query.where(Ticket.kind == kind)
    if status:
        query = query.where(Ticket.status == status)
    if priority:
        query = query.where(Ticket.priority == priority)
    if before_id is not None:
        query = query.where(Ticket.id < before_id)
    return list((await session.scalars(query.order_by(Ticket.id.desc()).limit(limit))).all())


async def children_of(session: AsyncSession, ticket_id: int) -> list[Ticket]:
    """A major incident's children. Whoever sees the major incident sees its children: they
    are one incident, and a reply to the major one reaches each child's customer."""
    return list((await session.scalars(select(Ticket).where(Ticket.parent_id == ticket_id).order_by(Ticket.id))).all())


async def incidents_of(session: AsyncSession, who: Principal, problem_id: int) -> list[Ticket]:
    """The incidents of a problem that `who` may see."""
    query = select(Ticket).where(Ticket.problem_id == problem_id, await ticket_visibility(session, who))
    return list((await session.scalars(query.order_by(Ticket.id))).all())


async def incident_counts(session: AsyncSession, who: Principal, problem_ids: Sequence[int]) -> dict[int, int]:
    """How many incidents `who` may see, per problem."""
    if not problem_ids:
        return {}
    query = (
        select(Ticket.problem_id, func.count())
        .where(Ticket.problem_id.in_(list(problem_ids)), await ticket_visibility(session, who))
        .group_by(Ticket.problem_id)
    )
    return {problem_id: count for problem_id, count in (await session.execute(query)).all() if problem_id is not None}


async def list_problems(session: AsyncSession, *, before_id: int | None = None, limit: int = 50) -> list[Problem]:
    query = select(Problem)
    if before_id is not None:
        query = query.where(Problem.id < before_id)
    return list((await session.scalars(query.order_by(Problem.id.desc()).limit(limit))).all())


async def ticket_ids_by_number(session: AsyncSession, numbers: Sequence[int]) -> dict[int, int]:
    """Ticket ids by their number (the UI names tickets by number); visibility is the action's."""
    if not numbers:
        return {}
    rows = await session.execute(select(Ticket.number, Ticket.id).where(Ticket.number.in_(list(numbers))))
    return {row.number: row.id for row in rows}
