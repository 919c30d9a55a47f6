"""Service desk pages: tickets (requests), incidents with the impact × urgency matrix, problems.

Every change is an action (`inbox.actions.tickets`), the same the API calls; the lists show
only what the agent may see.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox.actions import tickets as actions
from inbox.errors import DomainError, NotFound
from inbox.queries import changes as change_queries
from inbox.queries import portal as portal_queries
from inbox.queries import tickets as queries
from inbox.store.models import Problem, utcnow
from inbox.web.ids import Id, parse_id
from inbox.web.ui.conversation_pages import not_found, refused, timeline
from inbox.web.ui.routes import AgentForm, AgentPage, Page
from inbox.web.ui.service_pages import incident_context
from routing.priority import incident_priority
from routing.vocabulary import LEVELS, PROBLEM_STATUSES, TICKET_STATUSES

router = APIRouter(include_in_schema=False)


def matrix() -> list[tuple[str, list[str]]]:
    """The ITIL table: a row per impact, a priority per urgency."""
    return [(impact, [incident_priority(impact, urgency) for urgency in LEVELS]) for impact in LEVELS]


async def ticket_list(request: Request, page: Page, kind: str) -> Response:
    status = request.query_params.get("status", "")
    async with page.services.db.read() as session:
        tickets = await queries.list_tickets(
            session, page.agent, kind=kind, status=status if status in TICKET_STATUSES else None, limit=200
        )
    return page.render(
        "ui/tickets.html", kind=kind, tickets=tickets, statuses=TICKET_STATUSES, status=status, matrix=matrix(), levels=LEVELS, now=utcnow()
    )


@router.get("/tickets", response_class=HTMLResponse)
async def tickets_page(request: Request, page: AgentPage) -> Response:
    return await ticket_list(request, page, "request")


@router.get("/incidents", response_class=HTMLResponse)
async def incidents_page(request: Request, page: AgentPage) -> Response:
    return await ticket_list(request, page, "incident")


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(request: Request, page: AgentPage, ticket_id: Id) -> Response:
    async with page.services.db.read() as session:
        ticket = await queries.get_visible_ticket(session, page.agent, ticket_id)
        if ticket is None:
            return not_found(page)
        children = await queries.children_of(session, ticket_id)
        problems = list((await session.scalars(select(Problem).order_by(Problem.id.desc()).limit(100))).all())
        req, labels = await session.run_sync(portal_queries.request_of_ticket, ticket_id)
        suspected = await change_queries.suspected_changes(session, ticket_id, utcnow()) if ticket.kind == "incident" else []
        # The conversation's thread, as on its page (read only here).
        thread = [m for m in await timeline(session, ticket.conversation_id) if m["kind"] == "message"] if ticket.conversation_id else []
    desk = await page.services.db.query(lambda s: incident_context(s, ticket_id)) if ticket.kind == "incident" else {}
    error = request.query_params.get("error", "")
    return page.render(
        "ui/ticket.html",
        ticket=ticket,
        children=children,
        problems=problems,
        thread=thread,
        statuses=TICKET_STATUSES,
        matrix=matrix(),
        levels=LEVELS,
        now=utcnow(),
        error=error,
        req=req,
        labels=labels,
        suspected_changes=suspected,
        broadcast_key=secrets.token_hex(16),
        **desk,
    )


@router.post("/tickets/{ticket_id}")
async def ticket_update(
    page: AgentForm,
    ticket_id: Id,
    status: Annotated[str, Form()] = "",
    problem: Annotated[str, Form()] = "",
    children: Annotated[str, Form()] = "",
) -> Response:
    """Status, the incident's problem and a major incident's children (by ticket number)."""
    typed = [parse_id(n) for n in children.replace(" ", "").split(",") if n.isdigit()]
    problem_id = parse_id(problem) if problem.strip().isdigit() else None
    if None in typed or problem.strip().isdigit() and problem_id is None:
        return not_found(page)  # a number no ticket or problem can have
    numbers = list(dict.fromkeys(n for n in typed if n is not None))
    async with page.services.db.read() as session:
        by_number = await queries.ticket_ids_by_number(session, numbers)
    if len(by_number) != len(numbers):
        return not_found(page)
    changes = actions.TicketChanges(
        status=status or None,
        problem_id=problem_id,
        children=tuple(by_number[n] for n in numbers),
    )
    try:
        await actions.update_ticket(page.services.ctx, page.actor, ticket_id, changes)
    except NotFound:
        return not_found(page)
    except DomainError as exc:
        return RedirectResponse(f"/tickets/{ticket_id}?error={exc.message[:200]}", status_code=303)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.get("/problems", response_class=HTMLResponse)
async def problems_page(page: AgentPage) -> Response:
    async with page.services.db.read() as session:
        problems = await queries.list_problems(session, limit=200)
        counts = await queries.incident_counts(session, page.agent, [p.id for p in problems])
    return page.render("ui/problems.html", problems=problems, counts=counts)


@router.post("/problems")
async def problem_create(page: AgentForm, title: Annotated[str, Form()] = "", root_cause: Annotated[str, Form()] = "") -> Response:
    try:
        problem_id = await actions.create_problem(page.services.ctx, page.actor, title, root_cause=root_cause)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/problems/{problem_id}", status_code=303)


@router.get("/problems/{problem_id}", response_class=HTMLResponse)
async def problem_page(page: AgentPage, problem_id: Id) -> Response:
    async with page.services.db.read() as session:
        problem = await session.get(Problem, problem_id)
        if problem is None:
            return not_found(page)
        incidents = await queries.incidents_of(session, page.agent, problem_id)
    return page.render("ui/problem.html", problem=problem, incidents=incidents, statuses=PROBLEM_STATUSES)


@router.post("/problems/{problem_id}")
async def problem_update(
    page: AgentForm,
    problem_id: Id,
    status: Annotated[str, Form()] = "",
    root_cause: Annotated[str, Form()] = "",
    workaround: Annotated[str, Form()] = "",
    known_error: Annotated[str, Form()] = "",
) -> Response:
    """The form shows every field: an empty text clears it, an unchecked box clears the flag."""
    changes = actions.ProblemChanges(status=status or None, root_cause=root_cause, workaround=workaround, known_error=bool(known_error))
    try:
        await actions.update_problem(page.services.ctx, page.actor, problem_id, changes)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/problems/{problem_id}", status_code=303)
