"""Tickets, incidents (with major incidents) and problems."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import conversations as conv
from inbox import events
from inbox.auth import Principal
from inbox.pipeline import tickets as domain
from inbox.pipeline.ingest import Feed
from inbox.runtime.services import Services
from inbox.store.models import Conversation, Problem, Ticket
from inbox.web import pagination
from inbox.web.api.deps import BodyId, Id, Svc, Who
from inbox.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["tickets"])

Level = Literal["high", "medium", "low"]
T = TypeVar("T")


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["request", "incident"] = "request"
    impact: Level | None = None
    urgency: Level | None = None
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None = None
    title: str | None = Field(default=None, max_length=998)


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["new", "open", "pending", "resolved", "closed"] | None = None
    title: str | None = Field(default=None, max_length=998)
    problem_id: BodyId | None = None


class ChildrenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    children: list[BodyId] = Field(min_length=1, max_length=500)


class ProblemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=998)
    root_cause: str | None = None
    workaround: str | None = None
    known_error: bool = False
    incidents: list[BodyId] = Field(default=[], max_length=500)


class ProblemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=998)
    status: Literal["open", "known_error", "resolved", "closed"] | None = None
    root_cause: str | None = None
    workaround: str | None = None
    known_error: bool | None = None
    incidents: list[BodyId] | None = Field(default=None, max_length=500)


def ticket_json(t: Ticket, children: list[int] | None = None) -> dict[str, Any]:
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": t.id,
        "number": t.number,
        "kind": t.kind,
        "title": t.title,
        "status": t.status,
        "priority": t.priority,
        "impact": t.impact,
        "urgency": t.urgency,
        "conversation_id": t.conversation_id,
        "parent_id": t.parent_id,
        "problem_id": t.problem_id,
        "children": children or [],
        "first_response_due": iso(t.first_response_due),
        "resolution_due": iso(t.resolution_due),
        "resolved_at": iso(t.resolved_at),
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
    }


def problem_json(p: Problem, incidents: list[int]) -> dict[str, Any]:
    return {
        "id": p.id,
        "number": p.number,
        "title": p.title,
        "status": p.status,
        "root_cause": p.root_cause,
        "workaround": p.workaround,
        "known_error": p.known_error,
        "incidents": incidents,
        "created_at": p.created_at.isoformat(),
    }


async def change(svc: Services, work: Callable[[Connection, Feed], T]) -> T:
    """Run a domain change in one write transaction; its events wake listeners after commit."""
    feed: Feed = []
    outcome: list[int] = []

    def run(conn: Connection) -> T:
        events.lock_writers(conn)
        result = work(conn, feed)
        outcome.append(max(events.insert_events(conn, feed), default=0))
        return result

    try:
        result = await svc.db.run(run)
    except domain.TicketError as exc:
        raise ApiError(409 if "already" in str(exc) else 422, str(exc)) from None
    if outcome and outcome[0]:
        await svc.bus.publish(outcome[0])
    return result


async def _visible_ticket(session: AsyncSession, who: Principal, ticket_id: Id) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise not_found("ticket")
    if ticket.conversation_id is not None and await conv.get_visible(session, who, ticket.conversation_id) is None:
        raise not_found("ticket")
    return ticket


async def _children(session: AsyncSession, ticket_id: Id) -> list[int]:
    return list(await session.scalars(select(Ticket.id).where(Ticket.parent_id == ticket_id).order_by(Ticket.id)))


@router.post("/conversations/{conversation_id}/ticket", status_code=201)
async def convert(svc: Svc, who: Who, conversation_id: Id, body: TicketIn) -> dict[str, Any]:
    async with svc.db.read() as session:
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("conversation")
    ticket_id = await change(
        svc,
        lambda conn, feed: domain.open_ticket(
            conn, conversation_id, body.kind, svc.policy, feed, impact=body.impact, urgency=body.urgency, priority=body.priority, title=body.title
        ),
    )
    async with svc.db.read() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket_json(ticket)


@router.get("/tickets")
async def list_tickets(
    svc: Svc,
    who: Who,
    kind: Literal["request", "incident"] | None = None,
    status: str | None = None,
    priority: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        visible = select(Conversation.id).where(await conv.visibility(session, who))
        query = select(Ticket).where(Ticket.conversation_id.is_(None) | Ticket.conversation_id.in_(visible))
        if kind:
            query = query.where(Ticket.kind == kind)
        if status:
            query = query.where(Ticket.status == status)
        if priority:
            query = query.where(Ticket.priority == priority)
        if after:
            query = query.where(Ticket.id < int(after[0]))
        rows = list((await session.scalars(query.order_by(Ticket.id.desc()).limit(limit))).all())
    return pagination.page([ticket_json(t) for t in rows], limit, [rows[-1].id] if rows else None)


@router.get("/tickets/{ticket_id}")
async def get_ticket(svc: Svc, who: Who, ticket_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        ticket = await _visible_ticket(session, who, ticket_id)
        return ticket_json(ticket, await _children(session, ticket_id))


@router.patch("/tickets/{ticket_id}")
async def patch_ticket(svc: Svc, who: Who, ticket_id: Id, body: TicketPatch) -> dict[str, Any]:
    async with svc.db.read() as session:
        await _visible_ticket(session, who, ticket_id)

    def work(conn: Connection, feed: Feed) -> None:
        if body.status is not None:
            domain.change_status(conn, ticket_id, body.status, svc.policy, feed)
        if body.problem_id is not None:
            domain.link_to_problem(conn, body.problem_id, [ticket_id], feed)
        if body.title is not None:
            domain.set_title(conn, ticket_id, body.title, feed)

    await change(svc, work)
    return await get_ticket(svc, who, ticket_id)


@router.post("/tickets/{ticket_id}/children")
async def link_children(svc: Svc, who: Who, ticket_id: Id, body: ChildrenIn) -> dict[str, Any]:
    async with svc.db.read() as session:
        for tid in (ticket_id, *body.children):
            await _visible_ticket(session, who, tid)
    await change(svc, functools.partial(_link, ticket_id, body.children))
    return await get_ticket(svc, who, ticket_id)


def _link(parent: int, children: list[int], conn: Connection, feed: Feed) -> None:
    domain.link_children(conn, parent, children, feed)


@router.get("/problems")
async def list_problems(svc: Svc, who: Who, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        query = select(Problem)
        if after:
            query = query.where(Problem.id < int(after[0]))
        rows = list((await session.scalars(query.order_by(Problem.id.desc()).limit(limit))).all())
        items = [problem_json(p, await _incidents(session, p.id)) for p in rows]
    return pagination.page(items, limit, [rows[-1].id] if rows else None)


async def _incidents(session: AsyncSession, problem_id: Id) -> list[int]:
    return list(await session.scalars(select(Ticket.id).where(Ticket.problem_id == problem_id).order_by(Ticket.id)))


@router.post("/problems", status_code=201)
async def create_problem(svc: Svc, who: Who, body: ProblemIn) -> dict[str, Any]:
    def work(conn: Connection, feed: Feed) -> int:
        problem_id = domain.create_problem(conn, body.title, feed, root_cause=body.root_cause, workaround=body.workaround, known_error=body.known_error)
        if body.incidents:
            domain.link_to_problem(conn, problem_id, body.incidents, feed)
        return problem_id

    problem_id = await change(svc, work)
    return await get_problem(svc, who, problem_id)


@router.get("/problems/{problem_id}")
async def get_problem(svc: Svc, who: Who, problem_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        problem = await session.get(Problem, problem_id)
        if problem is None:
            raise not_found("problem")
        return problem_json(problem, await _incidents(session, problem_id))


@router.patch("/problems/{problem_id}")
async def patch_problem(svc: Svc, who: Who, problem_id: Id, body: ProblemPatch) -> dict[str, Any]:
    # null leaves a field as it is, except the two texts it can clear.
    fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in ("root_cause", "workaround")}
    incidents = fields.pop("incidents", None)

    def work(conn: Connection, feed: Feed) -> None:
        domain.update_problem(conn, problem_id, fields, feed)
        if incidents:
            domain.link_to_problem(conn, problem_id, incidents, feed)

    await change(svc, work)
    return await get_problem(svc, who, problem_id)
