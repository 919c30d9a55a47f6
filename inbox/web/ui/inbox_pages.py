"""The inbox: views (mine, unassigned, team, all), filters, search, unread markers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox import events
from inbox.actions import conversations as actions
from inbox.actions.views import SLA_STATES
from inbox.errors import DomainError, NotFound
from inbox.queries import conversations as conv
from inbox.store.models import Channel
from inbox.web import pagination
from inbox.web.errors import ApiError
from inbox.web.ids import Id
from inbox.web.ui.macro_pages import bulk_context
from inbox.web.ui.routes import AgentForm, AgentPage, Page
from inbox.web.ui.view_tabs import view_tabs
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

VIEWS = ("mine", "unassigned", "team", "all")
PAGE = 100


@dataclass(frozen=True, slots=True)
class InboxQuery:
    view: str = "all"
    status: str = ""  # as chosen; "" is the default: open, or every status when searching
    channel: str = ""
    priority: str = ""
    tag: str = ""
    q: str = ""
    assignee: str = ""  # me | none | EMAIL (a saved view's; the built-in views set their own)
    team: str = ""
    waiting: str = ""  # minutes: the customer has waited longer than this
    sla: str = ""  # due_soon | breached
    saved: str = ""  # the saved view shown (its tab is the current one)
    cursor: str = ""  # older than this (opaque, as in the API)

    @classmethod
    def from_request(cls, request: Request) -> InboxQuery:
        return cls.from_form(request.query_params)

    @classmethod
    def from_form(cls, p: Mapping[str, Any]) -> InboxQuery:
        """The view from its query parameters (or the same names in a form)."""
        view = p.get("view", "all")
        status = p.get("status", "")
        return cls(
            view=view if view in VIEWS else "all",
            status=status if status in (*CONVERSATION_STATUSES, "any") else "",
            channel=p.get("channel", "")[:63],
            priority=p.get("priority", "") if p.get("priority", "") in PRIORITIES else "",
            tag=p.get("tag", "")[:64],
            q=p.get("q", "")[:200],
            assignee=p.get("assignee", "")[:254],
            team=p.get("team", "")[:100],
            waiting=p.get("waiting", "") if p.get("waiting", "").isdigit() and len(p.get("waiting", "")) <= 6 else "",
            sla=p.get("sla", "") if p.get("sla", "") in SLA_STATES else "",
            saved=p.get("saved", "") if p.get("saved", "").isdigit() and len(p.get("saved", "")) <= 18 else "",
            cursor=p.get("cursor", "")[:200],
        )

    def filters(self) -> conv.ListFilter:
        saved = self.saved_filters()
        return conv.ListFilter(
            status=saved.get("status"),
            channel=saved.get("channel"),
            assignee=saved.get("assignee"),
            team=saved.get("team"),
            q=saved.get("q"),
            priority=saved.get("priority"),
            tag=saved.get("tag"),
            waiting_minutes_over=saved.get("waiting_minutes_over"),
            sla=saved.get("sla"),
            my_teams=self.view == "team",
        )

    @property
    def shown_status(self) -> str:
        """The status the list shows: the one chosen, else open — or any when searching (a
        search must not miss a pending or resolved conversation)."""
        return self.status or ("any" if self.q else "open")

    @property
    def narrowed(self) -> bool:
        """Whether filters beyond the view hide some conversations (an empty list then
        says so and offers to clear them)."""
        chosen = (self.channel, self.priority, self.tag, self.q, self.waiting, self.sla, self.assignee, self.team)
        return any(chosen) or self.shown_status != "any"

    def saved_filters(self) -> dict[str, Any]:
        """The filters shown, as a saved view holds them (what "Save view" stores)."""
        values: dict[str, Any] = {
            "status": None if self.shown_status == "any" else self.shown_status,
            "channel": self.channel,
            "assignee": {"mine": "me", "unassigned": "none"}.get(self.view) or self.assignee,
            "team": self.team,
            "priority": self.priority,
            "tag": self.tag,
            "q": self.q,
            "waiting_minutes_over": int(self.waiting) if self.waiting else None,
            "sla": self.sla,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    def link(self, **changes: str) -> str:
        from urllib.parse import urlencode

        values = {
            "view": self.view,
            "status": self.status,
            "channel": self.channel,
            "priority": self.priority,
            "tag": self.tag,
            "q": self.q,
            "assignee": self.assignee,
            "team": self.team,
            "waiting": self.waiting,
            "sla": self.sla,
            "saved": self.saved,
        }
        values.update(changes)
        return "/?" + urlencode({k: v for k, v in values.items() if v})


async def inbox_rows(request: Request, page: Page) -> dict[str, Any]:
    query = InboxQuery.from_request(request)
    svc = page.services
    try:
        values = pagination.decode(query.cursor or None, 2)
        after = (str(values[0]), int(values[1])) if values else None
        if after:
            dt.datetime.fromisoformat(after[0])
    except (ApiError, ValueError):
        after = None
    async with svc.db.read() as session:
        # The seq first: on PostgreSQL each statement sees the latest commits, so an event
        # read after the rows could stand for a change the rows miss — and the page's
        # live stream, starting after that seq, would never bring it.
        seq = await events.latest_seq(session)
        rows = await conv.list_conversations(session, page.agent, query.filters(), after=after, limit=PAGE)
        items = await conv.describe(session, rows)
        unread = await conv.unread_among(session, page.agent.agent_id, [c["id"] for c in items])
        channels = list(await session.scalars(select(Channel.name).order_by(Channel.name)))
        tabs = await view_tabs(session, page.agent, query.saved)
    older = pagination.encode([rows[-1].last_message_at.isoformat(), rows[-1].id]) if len(rows) == PAGE else ""
    return {"conversations": items, "unread": unread, "query": query, "channels": channels, "seq": seq, "older": older, "tabs": tabs}


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def inbox_page(request: Request, page: AgentPage) -> Response:
    context = await inbox_rows(request, page)
    context.update(await bulk_context(page, context["query"].filters()))
    return page.render(
        "ui/inbox.html", views=VIEWS, statuses=(*CONVERSATION_STATUSES, "any"), priorities=PRIORITIES, sla_states=SLA_STATES, **context
    )


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_fragment(request: Request, page: AgentPage) -> Response:
    """The list's rows alone: what the live update swaps in."""
    return page.render("ui/_inbox_rows.html", **await inbox_rows(request, page))


def _answer(request: Request, page: Page, body: dict[str, Any], after: str) -> Response:
    """JSON for the inbox's script (it asked for it), else back to the inbox view."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(body)
    return RedirectResponse(after if after.startswith("/?") or after == "/" else "/", status_code=303)


@router.post("/conversations/{conversation_id}/resolve")
async def resolve_from_inbox(request: Request, page: AgentForm, conversation_id: Id, next: Annotated[str, Form()] = "/") -> Response:
    """Resolve, and say what it was before: the inbox offers to undo it for ten seconds."""
    svc = page.services
    async with svc.db.read() as session:
        found = await conv.get_visible(session, page.agent, conversation_id)
    if found is None:
        return page.refuse(NotFound.of("conversation"))
    previous, until = found.status, found.snoozed_until
    try:
        await actions.update_conversation(svc.ctx, page.actor, conversation_id, actions.ConversationChanges(status="resolved"))
    except DomainError as exc:
        return page.refuse(exc)
    body = {"id": conversation_id, "previous": previous, "snoozed_until": until.isoformat() if until else None}
    return _answer(request, page, body, next[:2000])


@router.post("/conversations/{conversation_id}/undo-resolve")
async def undo_resolve(
    request: Request,
    page: AgentForm,
    conversation_id: Id,
    previous: Annotated[str, Form(max_length=16)] = "open",
    snoozed_until: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """The toast's "Undo": back to the status it had before the resolve."""
    try:
        until = dt.datetime.fromisoformat(snoozed_until) if snoozed_until else None
        if until is not None:
            until = (until if until.tzinfo else until.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        until = None  # then it is reopened rather than snoozed to an unknown time
    try:
        await actions.undo_resolve(page.services.ctx, page.actor, conversation_id, previous, until)
    except DomainError as exc:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {"error": {"code": exc.code, "message": page.message_of(exc)}}, status_code=409 if exc.kind == "conflict" else 400
            )
        return page.refuse(exc)
    return _answer(request, page, {"id": conversation_id, "status": previous}, next[:2000])
