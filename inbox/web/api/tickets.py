"""Tickets, incidents (with major incidents) and problems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import tickets as actions
from inbox.actions.runner import Actor
from inbox.queries import changes as change_queries
from inbox.queries import tickets as queries
from inbox.queries.portal import request_shape, ticket_fields
from inbox.queries.services import affected_names
from inbox.store.models import Problem, Ticket, TicketRequest, utcnow
from inbox.web import pagination
from inbox.web.api.deps import BodyId, Id, Svc, Who
from inbox.web.errors import not_found
from routing.vocabulary import Level, Priority, ProblemStatus, TicketKind, TicketStatus

router = APIRouter(prefix="/api/v1", tags=["tickets"])


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TicketKind = "request"
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = None
    title: str | None = Field(default=None, max_length=998)
    notify: bool = Field(default=True, description="tell the customer with the ticket_status template (through the outbox)")


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: TicketStatus | None = None
    title: str | None = Field(default=None, max_length=998)
    problem_id: BodyId | None = None
    affected: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(
        default=None, max_length=100, description="the services / configuration items it affects (replaces the list)"
    )


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
    title: str | None = Field(default=None, min_length=1, max_length=998, description="null leaves it as it is")
    status: ProblemStatus | None = Field(default=None, description="null leaves it as it is")
    root_cause: str | None = Field(default=None, description="null clears it; absent leaves it")
    workaround: str | None = Field(default=None, description="null clears it; absent leaves it")
    known_error: bool | None = Field(default=None, description="null leaves it as it is")
    incidents: list[BodyId] | None = Field(default=None, max_length=500, description="incidents to link (added to those linked)")


def ticket_json(t: Ticket, children: list[int] | None = None, request: TicketRequest | None = None) -> dict[str, Any]:
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
        **request_shape(request),
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


async def _ticket(svc: Svc, who: Who, ticket_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        ticket = await queries.get_visible_ticket(session, who, ticket_id)
        if ticket is None:
            raise not_found("ticket")
        children = [c.id for c in await queries.children_of(session, ticket_id)]
        request = await session.get(TicketRequest, ticket_id)
        shaped = ticket_json(ticket, children, request)
        shaped["suspected_changes"] = (
            await change_queries.suspected_changes(session, ticket_id, utcnow()) if ticket.kind == "incident" else []
        )
        shaped["affected"] = (await session.run_sync(lambda s: affected_names(s, [ticket_id])))[ticket_id]
        return shaped


@router.post("/conversations/{conversation_id}/ticket", status_code=201)
async def convert(svc: Svc, who: Who, conversation_id: Id, body: TicketIn) -> dict[str, Any]:
    ticket_id = await actions.open_ticket(
        svc.ctx,
        Actor.of(who),
        conversation_id,
        body.kind,
        impact=body.impact,
        urgency=body.urgency,
        priority=body.priority,
        title=body.title,
        notify=body.notify,
    )
    return await _ticket(svc, who, ticket_id)


@router.get("/tickets")
async def list_tickets(
    svc: Svc,
    who: Who,
    kind: TicketKind | None = None,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        rows = await queries.list_tickets(
            session, who, kind=kind, status=status, priority=priority, before_id=int(after[0]) if after else None, limit=limit
        )
        requests = await session.run_sync(ticket_fields, [t.id for t in rows])
    return pagination.page([ticket_json(t, None, requests.get(t.id)) for t in rows], limit, [rows[-1].id] if rows else None)


@router.get("/tickets/{ticket_id}")
async def get_ticket(svc: Svc, who: Who, ticket_id: Id) -> dict[str, Any]:
    return await _ticket(svc, who, ticket_id)


@router.patch("/tickets/{ticket_id}")
async def patch_ticket(svc: Svc, who: Who, ticket_id: Id, body: TicketPatch) -> dict[str, Any]:
    affected = tuple(body.affected) if body.affected is not None else None
    changes = actions.TicketChanges(status=body.status, title=body.title, problem_id=body.problem_id, affected=affected)
    await actions.update_ticket(svc.ctx, Actor.of(who), ticket_id, changes)
    return await _ticket(svc, who, ticket_id)


@router.post("/tickets/{ticket_id}/children")
async def link_children(svc: Svc, who: Who, ticket_id: Id, body: ChildrenIn) -> dict[str, Any]:
    await actions.link_children(svc.ctx, Actor.of(who), ticket_id, body.children)
    return await _ticket(svc, who, ticket_id)


@router.get("/problems")
async def list_problems(svc: Svc, who: Who, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Every problem; each lists only the incidents the caller may see."""
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        rows = await queries.list_problems(session, before_id=int(after[0]) if after else None, limit=limit)
        items = [problem_json(p, [t.id for t in await queries.incidents_of(session, who, p.id)]) for p in rows]
    return pagination.page(items, limit, [rows[-1].id] if rows else None)


@router.post("/problems", status_code=201)
async def create_problem(svc: Svc, who: Who, body: ProblemIn) -> dict[str, Any]:
    problem_id = await actions.create_problem(
        svc.ctx,
        Actor.of(who),
        body.title,
        root_cause=body.root_cause,
        workaround=body.workaround,
        known_error=body.known_error,
        incidents=body.incidents,
    )
    return await get_problem(svc, who, problem_id)


@router.get("/problems/{problem_id}")
async def get_problem(svc: Svc, who: Who, problem_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        problem = await session.get(Problem, problem_id)
        if problem is None:
            raise not_found("problem")
        return problem_json(problem, [t.id for t in await queries.incidents_of(session, who, problem_id)])


@router.patch("/problems/{problem_id}")
async def patch_problem(svc: Svc, who: Who, problem_id: Id, body: ProblemPatch) -> dict[str, Any]:
    # null leaves a field as it is, except the two texts it can clear.
    given = body.model_fields_set
    changes = actions.ProblemChanges(
        title=body.title,
        status=body.status,
        root_cause=body.root_cause if "root_cause" in given else actions.KEEP,
        workaround=body.workaround if "workaround" in given else actions.KEEP,
        known_error=body.known_error,
        incidents=tuple(body.incidents or ()),
    )
    await actions.update_problem(svc.ctx, Actor.of(who), problem_id, changes)
    return await get_problem(svc, who, problem_id)
