"""Service desk pages: tickets (requests), incidents with the impact × urgency matrix, problems."""

from __future__ import annotations

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, func, select

from inbox import conversations as conv
from inbox.pipeline.ingest import Feed
from inbox.pipeline.tickets import (
    LEVELS,
    change_status,
    create_problem,
    link_children,
    link_to_problem,
    update_problem,
)
from inbox.store.models import Conversation, Problem, Ticket, utcnow
from inbox.web.api.tickets import change
from inbox.web.errors import ApiError
from inbox.web.ui.routes import Page, posted, services_of, signed_in
from routing.priority import LEVELS as LEVEL_NAMES
from routing.priority import incident_priority

TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
PROBLEM_STATUSES = ("open", "known_error", "resolved", "closed")


def matrix() -> list[tuple[str, list[str]]]:
    """The ITIL table: a row per impact, a priority per urgency."""
    return [(impact, [incident_priority(impact, urgency) for urgency in LEVEL_NAMES]) for impact in LEVEL_NAMES]


def install(app: FastAPI) -> None:
    async def ticket_list(request: Request, kind: str) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        status = request.query_params.get("status", "")
        async with services_of(request).db.read() as session:
            visible = select(Conversation.id).where(await conv.visibility(session, page.who))
            query = select(Ticket).where(Ticket.kind == kind, Ticket.conversation_id.is_(None) | Ticket.conversation_id.in_(visible))
            if status in TICKET_STATUSES:
                query = query.where(Ticket.status == status)
            tickets = list((await session.scalars(query.order_by(Ticket.id.desc()).limit(200))).all())
        return page.render(
            "ui/tickets.html", kind=kind, tickets=tickets, statuses=TICKET_STATUSES, status=status, matrix=matrix(), levels=LEVELS, now=utcnow()
        )

    @app.get("/tickets", response_class=HTMLResponse, include_in_schema=False)
    async def tickets_page(request: Request) -> Response:
        return await ticket_list(request, "request")

    @app.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
    async def incidents_page(request: Request) -> Response:
        return await ticket_list(request, "incident")

    @app.get("/tickets/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
    async def ticket_page(request: Request, ticket_id: int) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.read() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or (ticket.conversation_id is not None and await conv.get_visible(session, page.who, ticket.conversation_id) is None):
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            children = list((await session.scalars(select(Ticket).where(Ticket.parent_id == ticket_id).order_by(Ticket.id))).all())
            problems = list((await session.scalars(select(Problem).order_by(Problem.id.desc()).limit(100))).all())
        error = request.query_params.get("error", "")
        return page.render(
            "ui/ticket.html", ticket=ticket, children=children, problems=problems, statuses=TICKET_STATUSES, matrix=matrix(), levels=LEVELS, now=utcnow(), error=error
        )

    @app.post("/tickets/{ticket_id}", include_in_schema=False)
    async def ticket_update(
        request: Request, ticket_id: int, csrf: str = Form(""), status: str = Form(""), problem: str = Form(""), children: str = Form("")
    ) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.read() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or (ticket.conversation_id is not None and await conv.get_visible(session, page.who, ticket.conversation_id) is None):
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            numbers = [int(n) for n in children.replace(" ", "").split(",") if n.isdigit()]
            child_ids = []
            for child in (await session.scalars(select(Ticket).where(Ticket.number.in_(numbers)))).all() if numbers else []:
                if child.conversation_id is None or await conv.get_visible(session, page.who, child.conversation_id) is not None:
                    child_ids.append(child.id)
            if len(child_ids) != len(set(numbers)):
                return RedirectResponse(f"/tickets/{ticket_id}?error={page.t('not_found')}", status_code=303)

        current_status = ticket.status

        def work(conn: Connection, feed: Feed) -> None:
            if status and status != current_status:
                change_status(conn, ticket_id, status, svc.policy, feed)
            if problem.isdigit():
                link_to_problem(conn, int(problem), [ticket_id], feed)
            if child_ids:
                link_children(conn, ticket_id, child_ids, feed)

        try:
            await change(svc, work)
        except ApiError as exc:
            return RedirectResponse(f"/tickets/{ticket_id}?error={exc.message[:200]}", status_code=303)
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)

    @app.get("/problems", response_class=HTMLResponse, include_in_schema=False)
    async def problems_page(request: Request) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            problems = list((await session.scalars(select(Problem).order_by(Problem.id.desc()).limit(200))).all())
            linked = select(Ticket.problem_id, func.count()).where(Ticket.problem_id.is_not(None)).group_by(Ticket.problem_id)
            counts = {row[0]: row[1] for row in await session.execute(linked)}
        return page.render("ui/problems.html", problems=problems, counts=counts)

    @app.post("/problems", include_in_schema=False)
    async def problem_create(request: Request, csrf: str = Form(""), title: str = Form(""), root_cause: str = Form("")) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        if not title.strip():
            return RedirectResponse("/problems", status_code=303)
        svc = services_of(request)
        problem_id = await change(svc, lambda conn, feed: create_problem(conn, title.strip()[:998], feed, root_cause=root_cause.strip() or None))
        return RedirectResponse(f"/problems/{problem_id}", status_code=303)

    @app.get("/problems/{problem_id}", response_class=HTMLResponse, include_in_schema=False)
    async def problem_page(request: Request, problem_id: int) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        async with services_of(request).db.read() as session:
            problem = await session.get(Problem, problem_id)
            if problem is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            incidents = list((await session.scalars(select(Ticket).where(Ticket.problem_id == problem_id).order_by(Ticket.id))).all())
        return page.render("ui/problem.html", problem=problem, incidents=incidents, statuses=PROBLEM_STATUSES)

    @app.post("/problems/{problem_id}", include_in_schema=False)
    async def problem_update(
        request: Request,
        problem_id: int,
        csrf: str = Form(""),
        status: str = Form(""),
        root_cause: str = Form(""),
        workaround: str = Form(""),
        known_error: str = Form(""),
    ) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        changes: dict[str, object] = {"root_cause": root_cause.strip() or None, "workaround": workaround.strip() or None, "known_error": bool(known_error)}
        if status in PROBLEM_STATUSES:
            changes["status"] = status
        try:
            await change(services_of(request), lambda conn, feed: update_problem(conn, problem_id, changes, feed))
        except ApiError as exc:
            return page.render("ui/error.html", exc.status, message=exc.message)
        return RedirectResponse(f"/problems/{problem_id}", status_code=303)
